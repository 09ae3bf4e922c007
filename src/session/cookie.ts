// Cookie headers: finding one cookie in a `Cookie` header and writing a `Set-Cookie` value.
// No dependency: only the few rules of RFC 6265 that a session cookie needs.

import { CookieFormatError, InvalidOptionError } from '../errors.js';

export type SameSite = 'lax' | 'strict' | 'none' | false;

export interface CookieOptions {
  path?: string;
  domain?: string;
  /** true, false, or 'auto': Secure when the request came over HTTPS (directly or via a trusted proxy). */
  secure?: boolean | 'auto';
  httpOnly?: boolean;
  sameSite?: SameSite | boolean;
  /** Lifetime in ms; undefined makes a browser-session cookie (OWASP S7). */
  maxAge?: number | undefined;
  expires?: Date | undefined;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** Options with defaults applied: HttpOnly and SameSite=Lax by default. */
export interface ResolvedCookieOptions {
  readonly name: string;
  readonly path: string;
  readonly domain: string | undefined;
  readonly secure: boolean | 'auto';
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly maxAge: number | undefined;
  readonly expires: Date | undefined;
  readonly partitioned: boolean;
  readonly priority: 'low' | 'medium' | 'high' | undefined;
}

// RFC 6265 token for names; cookie-octet for values; path/domain: no CTLs and no ';'.
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
const ATTRIBUTE = /^[\x20-\x3A\x3C-\x7E]+$/;

/** @throws {InvalidOptionError} for values outside what each option accepts, and for broken prefix rules. */
export function resolveCookieOptions(
  name: string,
  options: CookieOptions = {},
): ResolvedCookieOptions {
  if (!NAME.test(name)) throw new InvalidOptionError('name', 'an RFC 6265 cookie name', name);
  // express-session (through the cookie package) accepts any case: 'Strict' works there too.
  const givenSameSite =
    typeof options.sameSite === 'string'
      ? (options.sameSite.toLowerCase() as SameSite)
      : options.sameSite;
  const sameSite =
    givenSameSite === undefined ? 'lax' : givenSameSite === true ? 'strict' : givenSameSite;
  if (sameSite !== false && !['lax', 'strict', 'none'].includes(sameSite)) {
    throw new InvalidOptionError(
      'cookie.sameSite',
      "'lax', 'strict', 'none', true or false",
      options.sameSite,
    );
  }
  const secure = options.secure ?? false;
  if (secure !== true && secure !== false && secure !== 'auto') {
    throw new InvalidOptionError('cookie.secure', "true, false or 'auto'", secure);
  }
  const path = options.path ?? '/';
  if (!ATTRIBUTE.test(path))
    throw new InvalidOptionError('cookie.path', 'printable ASCII without ";"', path);
  if (options.domain !== undefined && !ATTRIBUTE.test(options.domain)) {
    throw new InvalidOptionError('cookie.domain', 'printable ASCII without ";"', options.domain);
  }
  if (
    options.maxAge !== undefined &&
    options.maxAge !== null &&
    !(Number.isFinite(options.maxAge) && options.maxAge >= 0)
  ) {
    throw new InvalidOptionError('cookie.maxAge', 'a number of milliseconds >= 0', options.maxAge);
  }
  const priority =
    typeof options.priority === 'string'
      ? (options.priority.toLowerCase() as ResolvedCookieOptions['priority'])
      : options.priority;
  if (priority !== undefined && !['low', 'medium', 'high'].includes(priority)) {
    throw new InvalidOptionError('cookie.priority', "'low', 'medium' or 'high'", options.priority);
  }
  if (
    options.expires !== undefined &&
    options.expires !== null &&
    !(options.expires instanceof Date && Number.isFinite(options.expires.getTime()))
  ) {
    throw new InvalidOptionError('cookie.expires', 'a valid Date', options.expires);
  }
  // Cookie prefixes (RFC 6265bis 4.1.3): browsers drop such cookies otherwise, silently.
  if (name.startsWith('__Secure-') || name.startsWith('__Host-')) {
    if (secure === false)
      throw new InvalidOptionError(
        'cookie.secure',
        `true or 'auto' for a ${name.split('-')[0]}- cookie`,
        secure,
      );
  }
  if (name.startsWith('__Host-')) {
    if (path !== '/') throw new InvalidOptionError('cookie.path', "'/' for a __Host- cookie", path);
    if (options.domain !== undefined)
      throw new InvalidOptionError('cookie.domain', 'unset for a __Host- cookie', options.domain);
  }
  if (sameSite === 'none' && secure === false) {
    throw new InvalidOptionError(
      'cookie.secure',
      "true or 'auto' with sameSite 'none' (browsers refuse it otherwise)",
      secure,
    );
  }
  return {
    name,
    path,
    domain: options.domain,
    secure,
    httpOnly: options.httpOnly ?? true,
    sameSite,
    maxAge: options.maxAge ?? undefined,
    expires: options.expires ?? undefined,
    partitioned: options.partitioned ?? false,
    priority,
  };
}

/**
 * The value of cookie `name` in a Cookie header, or undefined. Takes the first occurrence, as
 * browsers send the most specific path first. Never throws: a malformed header means no cookie.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const length = header.length;
  // Pair by pair, as RFC 6265 5.4 reads it: a name found inside another cookie's value (which
  // a cookie planted by a sibling subdomain could carry) must not count as the name.
  let start = 0;
  while (start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      let keyStart = start;
      while (keyStart < eq && isSpace(header.charCodeAt(keyStart))) keyStart++;
      let keyEnd = eq;
      while (keyEnd > keyStart && isSpace(header.charCodeAt(keyEnd - 1))) keyEnd--;
      if (keyEnd - keyStart === name.length && header.startsWith(name, keyStart)) {
        return decodeValue(header.slice(eq + 1, end).trim());
      }
    }
    start = end + 1;
  }
  return undefined;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Unquotes and percent-decodes; undefined when the percent-encoding is malformed. */
function decodeValue(raw: string): string | undefined {
  let value = raw;
  if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"')
    value = value.slice(1, -1);
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export interface SerializeExtras {
  /** Whether this request arrived over HTTPS; decides `secure: 'auto'`. */
  readonly secureRequest: boolean;
  /** Overrides the lifetime of this one cookie (ms); null makes a browser-session cookie. */
  readonly maxAge?: number | null | undefined;
  /** Expire the cookie now (logout). */
  readonly clear?: boolean;
}

/**
 * A Set-Cookie header value.
 * @throws {CookieFormatError} when the value has characters a cookie may not carry.
 */
export function serializeCookie(
  options: ResolvedCookieOptions,
  value: string,
  extras: SerializeExtras,
): string {
  if (!VALUE.test(value)) throw new CookieFormatError('value', value);
  let out = `${options.name}=${value}; Path=${options.path}`;
  if (options.domain !== undefined) out += `; Domain=${options.domain}`;
  if (extras.clear) {
    out += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0';
  } else {
    const maxAge = extras.maxAge === undefined ? options.maxAge : (extras.maxAge ?? undefined);
    if (maxAge !== undefined) {
      out += `; Max-Age=${Math.floor(maxAge / 1000)}; Expires=${new Date(Date.now() + maxAge).toUTCString()}`;
    } else if (options.expires !== undefined) {
      out += `; Expires=${options.expires.toUTCString()}`;
    }
  }
  if (options.httpOnly) out += '; HttpOnly';
  if (options.secure === true || (options.secure === 'auto' && extras.secureRequest))
    out += '; Secure';
  if (options.sameSite !== false) out += `; SameSite=${SAME_SITE[options.sameSite]}`;
  if (options.partitioned) out += '; Partitioned';
  if (options.priority !== undefined) out += `; Priority=${PRIORITY[options.priority]}`;
  return out;
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;
const PRIORITY = { low: 'Low', medium: 'Medium', high: 'High' } as const;
