// A hand-driven cluster peer for security tests: a raw socket that can speak the handshake
// (with any secret or cluster name), then send whatever bytes a test wants.

import { connect, type Socket } from 'node:net';
import {
  encodeFrame,
  Kind,
  createValueDecoder,
  toEnvelope,
  type Envelope,
} from '../../src/cluster/transport/codec.js';
import { FrameReader } from '../../src/cluster/transport/frame-reader.js';
import { newNonce, PROTOCOL_VERSION, proof } from '../../src/cluster/transport/handshake.js';

export async function rawConnect(address: string): Promise<Socket> {
  const [host, port] = address.split(':') as [string, string];
  const socket = connect({ host, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  return socket;
}

/** Resolves with the ms until the socket is closed by the other side, or -1 after `withinMs`. */
export function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) return resolve(0);
    const timer = setTimeout(() => resolve(-1), withinMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    };
    socket.once('close', done);
    socket.once('end', done);
  });
}

function nextFrame(socket: Socket, reader: FrameReader, timeoutMs = 2000): Promise<Envelope> {
  const decode = createValueDecoder(1 << 20);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no frame')), timeoutMs);
    socket.once('close', () => reject(new Error('closed')));
    const onData = (chunk: Buffer): void => {
      const frames = reader.push(chunk);
      if (frames.length > 0) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(toEnvelope(decode(frames[0]!)));
      }
    };
    socket.on('data', onData);
  });
}

/** Completes the dialer side of the handshake; resolves once welcomed. */
export async function rawHandshake(
  socket: Socket,
  options: { cluster: string; secret: string; name: string },
): Promise<void> {
  const reader = new FrameReader(1 << 20);
  const nonce = newNonce();
  socket.write(
    encodeFrame(Kind.hello, 0, '', {
      v: PROTOCOL_VERSION,
      cluster: options.cluster,
      name: options.name,
      address: '127.0.0.1:1',
      nonce,
    }),
  );
  const challenge = await nextFrame(socket, reader);
  const ctx = {
    cluster: options.cluster,
    dialerName: options.name,
    listenerName: challenge.body['name'] as string,
    dialerNonce: nonce,
    listenerNonce: challenge.body['nonce'] as Uint8Array,
  };
  socket.write(
    encodeFrame(Kind.proof, 0, '', { proof: proof(Buffer.from(options.secret), 'dialer', ctx) }),
  );
  const welcome = await nextFrame(socket, reader);
  if (welcome.kind !== Kind.welcome) throw new Error('not welcomed');
}
