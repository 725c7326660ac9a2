/**
 * The dashboard's pure parts (issue 15): escaping, options, the guard's checks, SSE framing, and
 * the two drawings: a workflow graph laid out in ranks, a machine drawn from its definition with
 * its state highlighted.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MACHINE_SOURCES, collect, rootOf } from '../../src/monitoring/machine-structure.js';
import { agentStateFor } from '../../src/cli/overview/agents.js';
import { graphSvg } from '../../src/cli/ui/graph-svg.js';
import { escapeHtml, html, raw } from '../../src/cli/ui/html.js';
import { sseFrame } from '../../src/cli/ui/live.js';
import { machineSvg } from '../../src/cli/ui/machine-svg.js';
import { isLoopback, resolveDashboardOptions } from '../../src/cli/ui/options.js';
import { CSRF_HEADER, Guard, sameSecret } from '../../src/cli/ui/security.js';

const fakeRequest = (headers: Record<string, string>, method = 'GET') =>
  ({ headers, method }) as unknown as IncomingMessage;

describe('html', () => {
  it('escapes every value put in a template, and only values', () => {
    const name = `<script>alert("x")</script> & 'it' \`tick\``;
    expect(html`<td title="${name}">${name}</td>`.text).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;it&#39; &#96;tick&#96;">' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;it&#39; &#96;tick&#96;</td>',
    );
    expect(html`<p>${html`<b>${'<i>'}</b>`}${[raw('<br>'), 1, null, undefined, false]}</p>`.text).toBe(
      '<p><b>&lt;i&gt;</b><br>1</p>',
    );
    // A plain object that looks like SafeHtml is not one.
    expect(html`${{ text: '<b>' }}`.text).toBe('[object Object]');
    expect(escapeHtml('a&b')).toBe('a&amp;b');
  });
});

describe('options', () => {
  it('knows loopback addresses and resolves defaults', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', 'localhost', '::1', '[::1]'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.4', 'example.com', '128.0.0.1'])
      expect(isLoopback(host), host).toBe(false);
    expect(resolveDashboardOptions({})).toEqual({
      host: '127.0.0.1',
      port: 7700,
      token: null,
      pollMs: 500,
      loopback: true,
    });
    expect(() => resolveDashboardOptions({ port: '-1' })).toThrow(
      expect.objectContaining({ code: 'UI_BAD_PORT' }),
    );
    expect(() => resolveDashboardOptions({ port: '80x' })).toThrow(
      expect.objectContaining({ code: 'UI_BAD_PORT' }),
    );
    expect(() => resolveDashboardOptions({ pollMs: '10' })).toThrow(/--poll-ms/);
  });
});

describe('the guard', () => {
  const token = 'x'.repeat(20);
  const guard = new Guard(token, true, () => 4000);
  const url = (path: string) => new URL(path, 'http://dashboard');

  it('compares secrets whatever their lengths', () => {
    expect(sameSecret(token, token)).toBe(true);
    expect(sameSecret('x', token)).toBe(false);
    expect(sameSecret('', token)).toBe(false);
  });

  it('checks the host, then the token from the query, the cookie or the bearer header', () => {
    expect(guard.check(fakeRequest({ host: 'evil:4000' }), url('/'))).toMatchObject({ status: 421 });
    expect(guard.check(fakeRequest({ host: '127.0.0.1:4001' }), url('/'))).toMatchObject({ status: 421 });
    expect(guard.check(fakeRequest({ host: '127.0.0.1:4000' }), url('/'))).toMatchObject({ status: 401 });
    expect(guard.check(fakeRequest({ host: 'localhost:4000' }), url(`/x?token=${token}`))).toMatchObject({
      status: 303,
      location: '/x',
    });
    const cookie = `${guard.cookieName}=${token}`;
    expect(guard.check(fakeRequest({ host: '[::1]:4000', cookie: `other=1; ${cookie}` }), url('/'))).toEqual({
      ok: true,
    });
    expect(
      guard.check(fakeRequest({ host: '[::1]:4000', authorization: `Bearer ${token}` }), url('/')),
    ).toEqual({
      ok: true,
    });
    expect(
      guard.check(fakeRequest({ host: '[::1]:4000', cookie: `${guard.cookieName}=%E0%A4%A` }), url('/')),
    ).toMatchObject({ status: 401 });
  });

  it('lets a change through only from its own origin with the CSRF header', () => {
    const same = { host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000', [CSRF_HEADER]: guard.csrf };
    expect(guard.checkChange(fakeRequest(same, 'POST'))).toEqual({ ok: true });
    expect(
      guard.checkChange(fakeRequest({ ...same, origin: 'http://localhost:4000' }, 'POST')),
    ).toMatchObject({ status: 403 });
    expect(guard.checkChange(fakeRequest({ ...same, origin: 'null' }, 'POST'))).toMatchObject({
      status: 403,
    });
    const { origin: _origin, ...noOrigin } = same;
    expect(guard.checkChange(fakeRequest(noOrigin, 'POST'))).toMatchObject({ status: 403 });
    expect(guard.checkChange(fakeRequest({ ...noOrigin, 'sec-fetch-site': 'same-origin' }, 'POST'))).toEqual({
      ok: true,
    });
    expect(guard.checkChange(fakeRequest({ ...same, [CSRF_HEADER]: 'nope' }, 'POST'))).toMatchObject({
      status: 403,
    });
  });
});

describe('sseFrame', () => {
  it('writes an event line, a data line per line, and a blank line', () => {
    expect(sseFrame('main', '{"a":1}')).toBe('event: main\ndata: {"a":1}\n\n');
    expect(sseFrame('main', 'one\ntwo\r\nthree')).toBe('event: main\ndata: one\ndata: two\ndata: three\n\n');
    expect(() => sseFrame('a\nb', 'x')).toThrow();
  });
});

describe('graphSvg', () => {
  it('ranks nodes after their dependencies, colours them by status and escapes their names', () => {
    const svg = graphSvg(
      [
        { id: 'a', label: 'fetch <it>', dependsOn: [], status: 'COMPLETED' },
        { id: 'b', label: 'sum', dependsOn: ['a'], status: 'RUNNING', when: 'x > 1' },
        { id: 'c', label: 'item', dependsOn: [], status: 'PENDING', itemOf: 'b' },
        { id: 'd', label: 'gone', dependsOn: ['missing'], status: 'SKIPPED' },
      ],
      (id) => `/tasks/${id}`,
    ).text;
    const y = (id: string) =>
      Number(new RegExp(`data-task="${id}"[^>]*translate\\([\\d.]+ ([\\d.]+)\\)`).exec(svg)![1]);
    expect(y('a')).toBe(y('d'));
    expect(y('b')).toBeGreaterThan(y('a'));
    expect(y('c')).toBeGreaterThan(y('b'));
    expect(svg).toContain('data-status="RUNNING"');
    expect(svg).toContain('class="edge cond"');
    expect(svg).toContain('class="edge made"');
    expect(svg).toContain('fetch &lt;it&gt;');
    expect(svg).not.toContain('<it>');
  });
});

describe('machineSvg', () => {
  it('draws every state and transition of the task machine, the current state and what leaves it marked', () => {
    const task = MACHINE_SOURCES.find((source) => source.name === 'task')!;
    const { svg, edges } = machineSvg(task, ['RUNNING']);
    expect(edges).toHaveLength(collect(rootOf(task.machine)).edges.length);
    for (const state of [
      'PENDING',
      'PENDING.ready',
      'PENDING.held',
      'PENDING.backoff',
      'RUNNING.bounded',
      'COMPLETED',
    ])
      expect(svg.text).toContain(`data-state="${state}"`);
    expect(svg.text).toMatch(/class="state on current"\s+data-state="RUNNING"/);
    expect(edges.filter((edge) => edge.next).map((edge) => edge.label)).toEqual(
      expect.arrayContaining(['SUCCEED', 'CANCEL', 'FAIL / countInterruption']),
    );
    expect(edges.filter((edge) => edge.next).every((edge) => edge.from.startsWith('RUNNING'))).toBe(true);
  });

  it('marks nothing when the state is not known, and draws "any state" for a machine\'s own transitions', () => {
    const breaker = MACHINE_SOURCES.find((source) => source.name === 'circuit-breaker')!;
    const { svg, edges } = machineSvg(breaker, null);
    expect(svg.text).not.toContain('current');
    expect(svg.text).toContain('any state');
    expect(edges.some((edge) => edge.from === 'any state')).toBe(true);
  });
});

describe('agentStateFor', () => {
  it("is the agent machine's own state for a load", () => {
    expect([0, 1, 2, 3].map((n) => agentStateFor(2, n))).toEqual(['idle', 'busy', 'full', 'full']);
  });
});
