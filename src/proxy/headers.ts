// Header rewriting between client and upstream: hop-by-hop fields are dropped in both directions
// (RFC 9110 §7.6.1, plus every field the Connection header lists), and the request gains
// X-Forwarded-For/-Proto/-Host and a Forwarded element (RFC 7239). Works on raw header arrays,
// so duplicates (Set-Cookie) and the client's spelling survive.

/** Never forwarded. transfer-encoding is handled by the caller (request bodies keep their framing). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
]);

function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) {
        const name = token.trim().toLowerCase();
        // An upgrade keeps its Upgrade field: the caller re-adds Connection for it.
        if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade')
          (listed ??= new Set()).add(name);
      }
    }
  }
  return listed;
}

export interface ForwardedInfo {
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  /** Keep the client's X-Forwarded-Proto/-Host (only behind another trusted proxy). */
  readonly trustForwarded: boolean;
}

/**
 * The request headers for the upstream, as a flat raw array.
 * `upgrade` keeps Connection: upgrade and Upgrade (WebSocket); `Expect` is dropped because the proxy
 * answered 100-continue itself.
 */
export function requestHeaders(
  raw: readonly string[],
  info: ForwardedInfo,
  upgrade: boolean,
): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let forwarded: string | undefined;
  let host = '';
  let proto: string | undefined;
  let xhost: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (upgrade && lower === 'upgrade') out.push(name, value);
      continue;
    }
    if (listed?.has(lower)) continue;
    switch (lower) {
      case 'x-forwarded-for':
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case 'forwarded':
        forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        if (info.trustForwarded) proto ??= value;
        continue;
      case 'x-forwarded-host':
        if (info.trustForwarded) xhost ??= value;
        continue;
      case 'expect':
        continue;
      case 'host':
        host = value;
    }
    out.push(name, value);
  }
  const ip = info.clientIp;
  out.push('X-Forwarded-For', xff === undefined ? ip : `${xff}, ${ip}`);
  out.push('X-Forwarded-Proto', proto ?? info.proto);
  if (host || xhost) out.push('X-Forwarded-Host', xhost ?? host);
  const node = ip.includes(':') ? `"[${ip}]"` : ip;
  const element = `for=${node};proto=${info.proto}` + (host ? `;host=${JSON.stringify(host)}` : '');
  out.push('Forwarded', forwarded === undefined ? element : `${forwarded}, ${element}`);
  if (upgrade) out.push('Connection', 'upgrade');
  return out;
}

/**
 * The X-Forwarded-For/-Proto/-Host and Forwarded lines (CRLF-ended) for a request that carried
 * none of them: what requestHeaders appends, as text.
 */
export function forwardedLines(ip: string, proto: 'http' | 'https', host: string): string {
  const node = ip.includes(':') ? `"[${ip}]"` : ip;
  return (
    `X-Forwarded-For: ${ip}\r\nX-Forwarded-Proto: ${proto}\r\n` +
    (host ? `X-Forwarded-Host: ${host}\r\n` : '') +
    `Forwarded: for=${node};proto=${proto}${host ? `;host=${JSON.stringify(host)}` : ''}\r\n`
  );
}

/** The response headers for the client, as a flat raw array, without hop-by-hop fields or framing. */
export function responseHeaders(raw: readonly string[]): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    // The client side is framed anew by node:http (chunked or Content-Length as the body goes).
    if (HOP_BY_HOP.has(lower) || lower === 'transfer-encoding' || listed?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** The client's address without the IPv4-mapped prefix. */
export function clientAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
