// GitHub App JWT verification as api.github.com does it, on the fake's (virtual) clock.
//
// A GitHub App authenticates as itself with a JWT signed RS256 by the app's private key:
// `iss` = the app id (number or string), `iat` = issued at, `exp` = expires at (epoch seconds),
// `exp - iat` at most 10 minutes. GitHub tolerates some clock drift on `iat` (its docs advise
// setting `iat` 60 s in the past); this fake accepts an `iat` up to 60 s in the future.
// The messages are the ones GitHub answers with 401.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';

export const JWT_MAX_LIFETIME_S = 600;
export const JWT_CLOCK_SKEW_S = 60;

export type JwtCheck = { ok: true; appId: number } | { ok: false; message: string };

const DECODE_FAILED = 'A JSON web token could not be decoded';

/** Verifies `token` as a JWT of app `appId` whose public key is `publicKey`, at `nowMs`. */
export function verifyAppJwt(
  token: string,
  publicKey: KeyObject | string,
  appId: number,
  nowMs: number,
): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    return { ok: false, message: DECODE_FAILED };
  }
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  const header = decodeJson(headerB64);
  const claims = decodeJson(payloadB64);
  if (header === undefined || claims === undefined) return { ok: false, message: DECODE_FAILED };
  if (header['alg'] !== 'RS256') return { ok: false, message: DECODE_FAILED };

  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const signed = Buffer.from(`${headerB64}.${payloadB64}`, 'utf8');
  const signature = Buffer.from(signatureB64, 'base64url');
  let valid = false;
  try {
    valid = verify('RSA-SHA256', signed, key, signature);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, message: DECODE_FAILED };

  const { iss, iat, exp } = claims;
  const issuer = typeof iss === 'number' ? String(iss) : typeof iss === 'string' ? iss : undefined;
  if (issuer === undefined || !/^[0-9]+$/.test(issuer)) {
    return { ok: false, message: "'Issuer' claim ('iss') must be an Integer" };
  }
  // Another app's id: GitHub would check the signature with that app's key, which fails.
  if (issuer !== String(appId)) return { ok: false, message: DECODE_FAILED };
  const nowS = Math.floor(nowMs / 1000);
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > nowS + JWT_CLOCK_SKEW_S) {
    return {
      ok: false,
      message:
        "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
    };
  }
  if (typeof exp !== 'number' || !Number.isInteger(exp) || exp <= nowS) {
    return {
      ok: false,
      message:
        "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
    };
  }
  if (exp - iat > JWT_MAX_LIFETIME_S) {
    return { ok: false, message: "'Expiration time' claim ('exp') is too far in the future" };
  }
  return { ok: true, appId };
}

/** True when the string has the shape of a JWT (three base64url parts), whatever its validity. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
