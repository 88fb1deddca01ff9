/**
 * What keeps the console safe to open: security headers on every answer (a strict CSP with no inline script, no
 * framing, no sniffing, no referrer to other sites), and CSRF protection on every form: a random cookie per browser (SameSite=Strict,
 * HttpOnly) and, in each form, a token derived from it with a key only this process knows; a POST passes only with
 * both, and from the console's own origin when the browser says where it comes from.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';

const COOKIE = 'pchat_dr_csrf';

/** The headers of every answer (hono's secureHeaders, with a CSP that allows only the console's own files). */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    xFrameOptions: 'DENY',
    // same-origin, not no-referrer: with no-referrer a form's POST says Origin: null, and the CSRF check reads it.
    referrerPolicy: 'same-origin',
    xContentTypeOptions: 'nosniff',
    crossOriginOpenerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
    strictTransportSecurity: false,
  });
}

export class CsrfGuard {
  private readonly key = randomBytes(32);

  constructor(private readonly origin: string) {}

  private tokenOf(cookie: string): string {
    return createHmac('sha256', this.key).update(cookie).digest('base64url');
  }

  /** The token this browser's forms carry (its cookie is set on first use). */
  token(c: Context): string {
    let cookie = getCookie(c, COOKIE);
    if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
      cookie = randomBytes(32).toString('base64url');
      setCookie(c, COOKIE, cookie, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        secure: this.origin.startsWith('https:'),
      });
    }
    return this.tokenOf(cookie);
  }

  /** Why a POST may not go on (a page says it), or null. */
  refusal(c: Context, token: unknown): string | null {
    const origin = c.req.header('origin');
    if (origin && origin !== this.origin)
      return `the form was sent from ${origin}, not from the console (${this.origin}): open the console's own page and answer there`;
    if (c.req.header('sec-fetch-site') === 'cross-site')
      return 'the form was sent from another site: open the console and answer there';
    const cookie = getCookie(c, COOKIE);
    if (!cookie || typeof token !== 'string' || token.length === 0)
      return 'the form has no valid CSRF token (cookies off, or the page is old): reload the page and answer again';
    const expected = Buffer.from(this.tokenOf(cookie));
    const given = Buffer.from(token);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return 'the form has no valid CSRF token (the console restarted, or the page is old): reload the page and answer again';
    return null;
  }
}
