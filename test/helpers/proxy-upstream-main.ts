// Child-process entry of the proxy tests' app node: `node --import tsx proxy-upstream-main.ts <name> [port]`.
// Prints `PORT <n>` once listening.
import { startUpstream } from './proxy-upstream.js';

const upstream = await startUpstream(process.argv[2] ?? 'node', Number(process.argv[3] ?? '0'));
process.stdout.write(`PORT ${upstream.port}\n`);
