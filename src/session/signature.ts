// HMAC-SHA256 signatures of session tokens, with a list of secrets for rotation:
// the first signs, every one verifies. Verification is constant-time over the whole MAC.

import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import { MIN_SECRET_CHARS } from '../defaults.js';

/** base64url of 32 bytes, without padding. */
const MAC_CHARS = 43;

export type Secrets = string | readonly string[];

export class Signer {
  readonly #keys: KeyObject[];

  /** @throws {InvalidOptionError} when there is no secret or one is shorter than 32 characters. */
  constructor(secrets: Secrets) {
    const list = typeof secrets === 'string' ? [secrets] : secrets;
    if (!Array.isArray(list) || list.length === 0) {
      throw new InvalidOptionError('secret', 'a string or a non-empty array of strings', secrets);
    }
    for (const secret of list) {
      if (typeof secret !== 'string' || secret.length < MIN_SECRET_CHARS) {
        throw new InvalidOptionError(
          'secret',
          `at least ${MIN_SECRET_CHARS} characters (use e.g. crypto.randomBytes(32).toString('hex'))`,
          typeof secret === 'string' ? `${secret.length} characters` : secret,
        );
      }
    }
    this.#keys = list.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  /** `<value>.<mac>` signed with the first secret. */
  sign(value: string): string {
    return `${value}.${mac(this.#keys[0]!, value)}`;
  }

  /**
   * The value inside a signed token, or undefined when no secret's MAC matches.
   * Any extra or missing character fails: the MAC must be exactly 43 base64url characters.
   */
  unsign(token: string): string | undefined {
    const dot = token.lastIndexOf('.');
    if (dot < 0 || token.length - dot - 1 !== MAC_CHARS) return undefined;
    const value = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    // base64url decoding ignores junk characters; a re-encode that differs means the MAC was not canonical.
    if (given.length !== 32 || given.toString('base64url') !== token.slice(dot + 1))
      return undefined;
    for (const key of this.#keys) {
      const expected = createHmac('sha256', key).update(macInput(value)).digest();
      if (timingSafeEqual(expected, given)) return value;
    }
    return undefined;
  }
}

function mac(key: KeyObject, value: string): string {
  return createHmac('sha256', key).update(macInput(value)).digest('base64url');
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The bytes a MAC covers: UTF-8 for well-formed text. UTF-8 maps every lone surrogate to U+FFFD,
 * so a MAC over it would verify other values too; such text is MACed as 0xFF (a byte UTF-8
 * never contains) followed by its UTF-16 code units, which keeps the encoding one-to-one.
 */
function macInput(value: string): string | Buffer {
  if (!LONE_SURROGATE.test(value)) return value;
  return Buffer.concat([Buffer.of(0xff), Buffer.from(value, 'utf16le')]);
}
