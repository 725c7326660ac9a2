import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The header a state-changing request must carry, with the value the pages hold. */
export const CSRF_HEADER = 'x-symphony-csrf';

/** Headers of every answer: no framing, no sniffing, no referrer, scripts and styles from here only. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The cookies of a request, by name (the first of a name wins). */
export function cookiesOf(request: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(at + 1).trim());
  }
  return cookies;
}

/** A request the guard refuses, and why. */
export interface Refusal {
  ok: false;
  status: 401 | 403 | 421;
  reason: string;
}

/** What the guard makes of a request. */
export type Verdict =
  | { ok: true }
  /** A good `?token=`: set the cookie and send the browser to `location` (the URL without it). */
  | { ok: false; status: 303; location: string; cookie: string }
  | Refusal;

/**
 * The dashboard's locks (docs/monitoring.md#security-model):
 * - the `Host` header must name the loopback address it listens on, when it listens on one (a page
 *   of another site that rebinds its name to 127.0.0.1 is refused);
 * - with a token, every request carries it: the cookie set after `?token=`, or
 *   `Authorization: Bearer <token>`; compared in constant time;
 * - a state-changing request (POST) must come from a page of the dashboard itself: its `Origin`
 *   (or `Sec-Fetch-Site: same-origin`) and the CSRF header with the value the pages hold.
 */
export class Guard {
  /** The value of the CSRF header, made once per server and put in every page. */
  readonly csrf = randomBytes(24).toString('base64url');

  constructor(
    private readonly token: string | null,
    private readonly loopback: boolean,
    private readonly port: () => number,
  ) {}

  /** The cookie holding the token: one per port, as a browser keeps cookies by host, not port. */
  get cookieName(): string {
    return `symphony_ui_${this.port()}`;
  }

  /** Host names a loopback dashboard answers to. */
  private hostAllowed(host: string | undefined): boolean {
    if (!this.loopback) return true;
    if (host === undefined) return false;
    const port = this.port();
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host.toLowerCase());
  }

  /** The check of every request, before anything is read or served. */
  check(request: IncomingMessage, url: URL): Verdict {
    if (!this.hostAllowed(request.headers.host)) {
      return {
        ok: false,
        status: 421,
        reason: 'This dashboard answers to 127.0.0.1, localhost or [::1] only',
      };
    }
    if (this.token === null) return { ok: true };
    const fromQuery = url.searchParams.get('token');
    if (fromQuery !== null && request.method === 'GET') {
      if (!sameSecret(fromQuery, this.token)) return { ok: false, status: 401, reason: 'Wrong token' };
      url.searchParams.delete('token');
      const cookie = `${this.cookieName}=${encodeURIComponent(this.token)}; HttpOnly; SameSite=Strict; Path=/`;
      return { ok: false, status: 303, location: `${url.pathname}${url.search}`, cookie };
    }
    const auth = request.headers.authorization;
    const given = auth?.startsWith('Bearer ')
      ? auth.slice('Bearer '.length)
      : cookiesOf(request).get(this.cookieName);
    if (given === undefined) return { ok: false, status: 401, reason: 'This dashboard needs its token' };
    let decoded: string;
    try {
      decoded = decodeURIComponent(given);
    } catch {
      return { ok: false, status: 401, reason: 'Wrong token' };
    }
    return sameSecret(decoded, this.token) ? { ok: true } : { ok: false, status: 401, reason: 'Wrong token' };
  }

  /** The further check of a state-changing request: same origin and the CSRF header. */
  checkChange(request: IncomingMessage): { ok: true } | Refusal {
    const origin = request.headers.origin;
    const sameOrigin =
      origin !== undefined
        ? origin === `http://${request.headers.host ?? ''}`
        : request.headers['sec-fetch-site'] === 'same-origin';
    if (!sameOrigin) return { ok: false, status: 403, reason: 'Changes come from the dashboard itself only' };
    const csrf = request.headers[CSRF_HEADER];
    if (typeof csrf !== 'string' || !sameSecret(csrf, this.csrf)) {
      return { ok: false, status: 403, reason: `Missing or wrong ${CSRF_HEADER} header` };
    }
    return { ok: true };
  }
}

/** Writes the security headers on a response. */
export function secure(response: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
}
