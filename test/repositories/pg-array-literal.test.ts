/**
 * Array parameters built as PostgreSQL array literals by `JSON.stringify` (unnest.ts): what the
 * server reads from one is what pg's own encoding of the array gives, element for element, and
 * the fast path is the one taken for the arrays a commit binds.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { arrayLiteral } from '../../src/repositories/postgres/unnest.js';
import { describePostgres, withAdmin } from './pg-helpers.js';

/** Text as PostgreSQL stores it: no NUL, no lone surrogate (the engine refuses those). */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom('"', '\\', ',', '{', '}', ' ', '\n', '\t', 'a', 'NULL', 'é', '\u2028'),
    maxLength: 8,
  }),
  fc.constantFrom('NULL', 'null', '', ' ', '{}', '"', '\\'),
);

describePostgres('PostgreSQL array literals', () => {
  it('the fast path is taken for ids, plans, numbers, booleans and nulls', () => {
    expect(arrayLiteral(['a1', null, '{"agentKey":"noop","priority":0}'])).toBe(
      '{"a1",null,"{\\"agentKey\\":\\"noop\\",\\"priority\\":0}"}',
    );
    expect(arrayLiteral([1796444629137, 0.5, null])).toBe('{1796444629137,0.5,null}');
    expect(arrayLiteral([true, false])).toBe('{true,false}');
    expect(arrayLiteral([])).toBe('{}');
    // Where JSON's escapes are not PostgreSQL's, pg encodes the array itself.
    const newline = ['a\nb'];
    expect(arrayLiteral(newline)).toBe(newline);
    const nan = [Number.NaN];
    expect(arrayLiteral(nan)).toBe(nan);
  });

  it('law: the server reads from the literal exactly what pg’s own encoding of the array gives', async () => {
    await withAdmin(async (client) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.option(text, { nil: null }), { maxLength: 8 }),
          fc.array(fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }), {
            maxLength: 6,
          }),
          fc.array(fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: null }), {
            maxLength: 6,
          }),
          fc.array(fc.option(fc.boolean(), { nil: null }), { maxLength: 6 }),
          async (texts, doubles, ints, bools) => {
            const sql = 'SELECT $1::text[] AS t, $2::float8[] AS d, $3::int4[] AS i, $4::bool[] AS b';
            const mine = await client.query(sql, [texts, doubles, ints, bools].map(arrayLiteral));
            const theirs = await client.query(sql, [texts, doubles, ints, bools]);
            expect(mine.rows).toEqual(theirs.rows);
            expect(mine.rows[0].t).toEqual(texts);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
