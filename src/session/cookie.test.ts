import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readCookie, resolveCookieOptions, serializeCookie, type CookieOptions } from './cookie.js';

const INSECURE = { secureRequest: false };
const SECURE = { secureRequest: true };

function serialize(
  options: CookieOptions,
  value = 'v',
  extras: Parameters<typeof serializeCookie>[2] = INSECURE,
  name = 'sid',
): string {
  return serializeCookie(resolveCookieOptions(name, options), value, extras);
}

// ---- readCookie ----

test('readCookie finds the cookie among others', () => {
  assert.equal(readCookie('a=1; sid=abc; b=2', 'sid'), 'abc');
  assert.equal(readCookie('sid=abc', 'sid'), 'abc');
  assert.equal(readCookie('a=1;sid=abc', 'sid'), 'abc');
  assert.equal(readCookie('a=1;\tsid=abc ;b=2', 'sid'), 'abc');
  assert.equal(readCookie('a=1; b=2', 'sid'), undefined);
  assert.equal(readCookie('', 'sid'), undefined);
  assert.equal(readCookie(undefined, 'sid'), undefined);
});

test('readCookie takes the first occurrence', () => {
  assert.equal(readCookie('sid=first; sid=second', 'sid'), 'first');
  assert.equal(readCookie('a=1; sid=first; x=2; sid=second', 'sid'), 'first');
});

test('readCookie does not match a name that ends with the cookie name', () => {
  assert.equal(readCookie('xsid=evil', 'sid'), undefined);
  assert.equal(readCookie('xsid=evil; sid=good', 'sid'), 'good');
  assert.equal(readCookie('__Host-sid=evil; sid=good', 'sid'), 'good');
  assert.equal(readCookie('sidx=evil; sid=good', 'sid'), 'good');
});

test('readCookie does not match the name inside another cookie value', () => {
  assert.equal(readCookie('a=sid=evil; sid=good', 'sid'), 'good');
  assert.equal(readCookie('a=x sid=evil; sid=good', 'sid'), 'good');
  assert.equal(readCookie('a="x sid=evil"; sid=good', 'sid'), 'good');
});

test('readCookie unquotes a quoted value', () => {
  assert.equal(readCookie('sid="abc"', 'sid'), 'abc');
  assert.equal(readCookie('sid=""', 'sid'), '');
  assert.equal(readCookie('sid="abc', 'sid'), '"abc');
});

test('readCookie percent-decodes a value', () => {
  assert.equal(readCookie('sid=a%2Eb%3D', 'sid'), 'a.b=');
  assert.equal(readCookie('sid=%E2%82%AC', 'sid'), '€');
});

test('readCookie treats malformed percent-encoding as no cookie', () => {
  for (const value of ['%', '%E2%82', '%zz', 'abc%', '%C0%AF', '%ED%A0%80']) {
    assert.equal(readCookie(`sid=${value}`, 'sid'), undefined, value);
  }
});

test('readCookie finds the cookie in a header of 500 pairs', () => {
  const pairs = Array.from({ length: 500 }, (_, i) => `c${i}=${'v'.repeat(10)}`);
  assert.equal(readCookie(pairs.join('; '), 'sid'), undefined);
  pairs.splice(499, 0, 'sid=last');
  assert.equal(readCookie(pairs.join('; '), 'sid'), 'last');
});

test('readCookie returns a 10 KB value as it is (the manager refuses it by length)', () => {
  const big = 'x'.repeat(10 * 1024);
  assert.equal(readCookie(`a=1; sid=${big}`, 'sid'), big);
});

test('readCookie never throws, whatever the header and the name', () => {
  const header = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc
      .array(fc.constantFrom('sid', '=', ';', ' ', '"', '%', '%2', '%E2', 'x', '\t', '\uD800'), {
        maxLength: 30,
      })
      .map((a) => a.join('')),
  );
  const name = fc.oneof(fc.constant('sid'), fc.string({ unit: 'binary', maxLength: 5 }));
  fc.assert(
    fc.property(header, name, (h, n) => {
      const value = readCookie(h, n);
      assert.ok(value === undefined || typeof value === 'string');
    }),
    { numRuns: 5000 },
  );
});

// ---- serializeCookie ----

test('a cookie defaults to Path=/, HttpOnly and SameSite=Lax, without Max-Age', () => {
  assert.equal(serialize({}), 'sid=v; Path=/; HttpOnly; SameSite=Lax');
});

test('secure: true always adds Secure', () => {
  assert.match(serialize({ secure: true }, 'v', INSECURE), /; Secure/);
  assert.match(serialize({ secure: true }, 'v', SECURE), /; Secure/);
  assert.doesNotMatch(serialize({ secure: false }, 'v', SECURE), /Secure/);
});

test("secure: 'auto' adds Secure only on secure requests", () => {
  assert.match(serialize({ secure: 'auto' }, 'v', SECURE), /; Secure/);
  assert.doesNotMatch(serialize({ secure: 'auto' }, 'v', INSECURE), /Secure/);
});

test('maxAge writes Max-Age in seconds and a matching Expires', () => {
  const before = Date.now();
  const out = serialize({ maxAge: 3_600_500 });
  const after = Date.now();
  assert.match(out, /; Max-Age=3600; Expires=/);
  const expires = Date.parse(/Expires=([^;]+)/.exec(out)![1]!);
  assert.ok(
    expires >= Math.floor((before + 3_600_500) / 1000) * 1000 && expires <= after + 3_600_500,
    out,
  );
});

test('expires writes Expires without Max-Age', () => {
  const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
  assert.equal(
    serialize({ expires }),
    'sid=v; Path=/; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; SameSite=Lax',
  );
});

test('a per-cookie maxAge overrides the option, and null makes a browser-session cookie', () => {
  assert.match(
    serialize({ maxAge: 10_000 }, 'v', { secureRequest: false, maxAge: 20_000 }),
    /Max-Age=20;/,
  );
  assert.equal(
    serialize({ maxAge: 10_000 }, 'v', { secureRequest: false, maxAge: null }),
    'sid=v; Path=/; HttpOnly; SameSite=Lax',
  );
});

test('Partitioned, Priority, Domain, Path and SameSite are written as configured', () => {
  assert.equal(
    serialize({
      partitioned: true,
      secure: true,
      priority: 'high',
      domain: 'example.com',
      path: '/app',
      sameSite: 'strict',
    }),
    'sid=v; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=Strict; Partitioned; Priority=High',
  );
  assert.match(serialize({ sameSite: 'none', secure: true }), /; SameSite=None/);
  assert.doesNotMatch(serialize({ sameSite: false }), /SameSite/);
  assert.match(serialize({ sameSite: true }), /; SameSite=Strict/);
  assert.doesNotMatch(serialize({ httpOnly: false }), /HttpOnly/);
});

test('clear expires the cookie now', () => {
  assert.equal(
    serialize({ maxAge: 10_000 }, '', { secureRequest: false, clear: true }),
    'sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; SameSite=Lax',
  );
});

test('a value with characters a cookie may not carry is refused', () => {
  for (const value of ['a;b', 'a\r\nSet-Cookie: x=1', 'a b', 'é', 'a,b', 'a"b', 'a\\b', '\0']) {
    assert.throws(
      () => serialize({}, value),
      { name: 'CookieFormatError', code: 'SM_ERR_COOKIE_FORMAT' },
      JSON.stringify(value),
    );
  }
});

// ---- resolveCookieOptions ----

test('a __Host- cookie needs secure, path / and no domain', () => {
  assert.doesNotThrow(() => resolveCookieOptions('__Host-sid', { secure: true }));
  assert.doesNotThrow(() => resolveCookieOptions('__Host-sid', { secure: 'auto' }));
  for (const options of [
    {},
    { secure: false },
    { secure: true, path: '/app' },
    { secure: true, domain: 'example.com' },
  ] as CookieOptions[]) {
    assert.throws(
      () => resolveCookieOptions('__Host-sid', options),
      { code: 'SM_ERR_OPTION_INVALID' },
      JSON.stringify(options),
    );
  }
});

test('a __Secure- cookie needs secure', () => {
  assert.doesNotThrow(() =>
    resolveCookieOptions('__Secure-sid', { secure: true, path: '/app', domain: 'example.com' }),
  );
  assert.throws(() => resolveCookieOptions('__Secure-sid', {}), { code: 'SM_ERR_OPTION_INVALID' });
});

test("sameSite 'none' needs secure", () => {
  assert.throws(() => resolveCookieOptions('sid', { sameSite: 'none' }), {
    code: 'SM_ERR_OPTION_INVALID',
  });
  assert.doesNotThrow(() => resolveCookieOptions('sid', { sameSite: 'none', secure: 'auto' }));
});

test('sameSite and priority accept the capitalized spellings express-session users write', () => {
  const resolved = resolveCookieOptions('sid', {
    sameSite: 'Strict' as never,
    priority: 'High' as never,
  });
  assert.equal(resolved.sameSite, 'strict');
  assert.equal(resolved.priority, 'high');
});

test('each bad option is refused with SM_ERR_OPTION_INVALID', () => {
  const bad: [string, CookieOptions][] = [
    ['', {}],
    ['s id', {}],
    ['s;id', {}],
    ['sid=', {}],
    ['sïd', {}],
    ['sid', { sameSite: 'sometimes' as never }],
    ['sid', { secure: 'yes' as never }],
    ['sid', { path: '/a;b' }],
    ['sid', { path: '' }],
    ['sid', { path: '/a\r\nb' }],
    ['sid', { domain: 'a;b' }],
    ['sid', { domain: '' }],
    ['sid', { maxAge: -1 }],
    ['sid', { maxAge: Number.NaN }],
    ['sid', { maxAge: Infinity }],
    ['sid', { maxAge: '100' as never }],
    ['sid', { expires: new Date(Number.NaN) }],
    ['sid', { expires: 'tomorrow' as never }],
    ['sid', { priority: 'urgent' as never }],
  ];
  for (const [name, options] of bad) {
    assert.throws(
      () => resolveCookieOptions(name, options),
      { name: 'InvalidOptionError', code: 'SM_ERR_OPTION_INVALID' },
      `${name} ${JSON.stringify(options)}`,
    );
  }
});
