import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Signer } from './signature.js';
import { generateId } from './id.js';

const OLD = 'o'.repeat(32);
const NEW = 'n'.repeat(40);

function macOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}

test('unsign returns the value that sign signed', () => {
  const signer = new Signer(NEW);
  const id = generateId();
  const token = signer.sign(id);
  assert.match(token, new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
  assert.equal(signer.unsign(token), id);
  assert.equal(signer.unsign(signer.sign(`${id}.route-a.route-b`)), `${id}.route-a.route-b`);
});

test('a token signed with the old secret verifies while the old secret is still listed', () => {
  const token = new Signer(OLD).sign('value');
  assert.equal(new Signer([NEW, OLD]).unsign(token), 'value');
  assert.equal(new Signer([NEW]).unsign(token), undefined);
  assert.equal(new Signer(NEW).unsign(token), undefined);
});

test('after rotation the new secret signs and the old one only verifies', () => {
  const rotated = new Signer([NEW, OLD]);
  const token = rotated.sign('value');
  assert.equal(new Signer(NEW).unsign(token), 'value');
  assert.equal(new Signer(OLD).unsign(token), undefined);
});

test('a tampered value fails', () => {
  const signer = new Signer(NEW);
  const token = signer.sign('aaaaaaaaaaaaaaaaaaaaaaaa');
  assert.equal(signer.unsign(`b${token.slice(1)}`), undefined);
  assert.equal(signer.unsign(`x${token}`), undefined);
  assert.equal(signer.unsign(token.slice(1)), undefined);
});

test('a tampered MAC fails', () => {
  const signer = new Signer(NEW);
  const token = signer.sign('value');
  const mac = macOf(token);
  const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
  assert.equal(signer.unsign(`value.${flipped}`), undefined);
});

test('a MAC one character short or long fails', () => {
  const signer = new Signer(NEW);
  const token = signer.sign('value');
  assert.equal(signer.unsign(token.slice(0, -1)), undefined);
  assert.equal(signer.unsign(`${token}A`), undefined);
});

test('garbage appended after the MAC fails', () => {
  const signer = new Signer(NEW);
  const token = signer.sign('value');
  for (const garbage of ['.x', ';', ' ', '%00', '=', '==', `.${macOf(token)}`]) {
    assert.equal(signer.unsign(token + garbage), undefined, garbage);
  }
});

test('an empty or missing MAC fails', () => {
  const signer = new Signer(NEW);
  for (const bad of ['value.', 'value', '', '.', '..', `.${macOf(signer.sign('value'))}`]) {
    assert.equal(signer.unsign(bad), undefined, bad);
  }
});

test('a MAC in non-canonical base64url fails', () => {
  const signer = new Signer(NEW);
  const token = signer.sign('value');
  const mac = macOf(token);
  // The 43rd character carries 4 bits and 2 padding bits: changing only the padding bits decodes
  // to the same 32 bytes, so the decoder alone would accept it.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(mac[42]!);
  const sibling = alphabet[last ^ 1]!;
  const forged = `value.${mac.slice(0, 42)}${sibling}`;
  assert.deepEqual(Buffer.from(macOf(forged), 'base64url'), Buffer.from(mac, 'base64url'));
  assert.equal(signer.unsign(forged), undefined);
  // Standard base64 characters and padding are not base64url.
  const std = Buffer.from(mac, 'base64url').toString('base64');
  assert.equal(signer.unsign(`value.${std}`), undefined);
  assert.equal(
    signer.unsign(`value.${std.replace(/=+$/, '')}`),
    mac.match(/[-_]/) ? undefined : 'value',
  );
});

test('a secret shorter than 32 characters is refused', () => {
  for (const secrets of ['x'.repeat(31), '', [NEW, 'short'], ['x'.repeat(31)]]) {
    assert.throws(
      () => new Signer(secrets),
      { code: 'SM_ERR_OPTION_INVALID' },
      JSON.stringify(secrets),
    );
  }
  assert.doesNotThrow(() => new Signer('x'.repeat(32)));
});

test('an empty secret list or a secret that is not a string is refused', () => {
  for (const secrets of [[], 42, null, undefined, {}, [NEW, 42], [Buffer.alloc(40)], [null]]) {
    assert.throws(
      () => new Signer(secrets as never),
      { name: 'InvalidOptionError', code: 'SM_ERR_OPTION_INVALID' },
      String(secrets),
    );
  }
});

test('unsign inverts sign for any value', () => {
  const signer = new Signer([NEW, OLD]);
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
      assert.equal(signer.unsign(signer.sign(value)), value);
    }),
  );
});

test('any single-character change to a token makes it fail', () => {
  const signer = new Signer(NEW);
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.nat(),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      (value, at, replacement) => {
        const token = signer.sign(value);
        const i = at % token.length;
        fc.pre(token[i] !== replacement);
        const mutated = token.slice(0, i) + replacement + token.slice(i + 1);
        assert.equal(signer.unsign(mutated), undefined);
      },
    ),
    { numRuns: 2000 },
  );
});

test('values that differ only in lone surrogates have different signatures', () => {
  // UTF-8 encoding turns every lone surrogate into U+FFFD: without care, the MAC of one such
  // value would verify another.
  const signer = new Signer(NEW);
  const token = signer.sign('a\uD800');
  assert.equal(signer.unsign(token), 'a\uD800');
  assert.equal(signer.unsign(`a\uDC00.${macOf(token)}`), undefined);
  assert.equal(signer.unsign(`a\uFFFD.${macOf(token)}`), undefined);
});
