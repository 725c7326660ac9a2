import { z } from 'zod';
import { expectations } from './expected.js';

/**
 * A point in time of a workflow file (`runAt`, `sleep.until`): an ISO 8601 date-time with its
 * offset, or epoch milliseconds.
 */

/** The shape of an ISO 8601 date-time with its offset: seconds and their fraction may be left out. */
const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** What a point in time is, in words, for messages. */
export const INSTANT_WORDS =
  'an ISO 8601 date-time with its offset (e.g. 2026-12-05T10:00:00Z) or epoch milliseconds (an integer >= 0)';

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** Days of a month (1-12) of a year. */
function daysIn(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Whether a date-time of the right shape names a moment that exists: a month 01-12, a day of that
 * month (`Date.parse` would move February 30 to March 2), hours 00-23, minutes and seconds 00-59,
 * an offset of at most 23:59.
 */
function isRealDateTime(text: string): boolean {
  const match = ISO_PATTERN.exec(text);
  if (match === null) return false;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  return (
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysIn(year!, month!) &&
    hour! <= 23 &&
    minute! <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59 &&
    Number.isFinite(Date.parse(text))
  );
}

/** The schema of a point in time; the loader's messages say what it takes in words. */
export const instantSchema = () =>
  z
    .union([
      z
        .string()
        .regex(ISO_PATTERN, { abort: true })
        .refine(isRealDateTime, { params: { reason: 'there is no such date or time' } })
        // One reason a value: a date-time that does not exist is not also said to be early.
        .refine((text) => !isRealDateTime(text) || Date.parse(text) >= 0, {
          params: { reason: 'it is before 1970-01-01T00:00:00Z' },
        }),
      z.int().min(0),
    ])
    .register(expectations, { expected: INSTANT_WORDS });

/** Epoch milliseconds of a file's point in time, once checked by `instantSchema`. */
export function epochMs(instant: string | number): number {
  return typeof instant === 'string' ? Date.parse(instant) : instant;
}
