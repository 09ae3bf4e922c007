// Child-process entry that runs a proxy: `node --import tsx proxy-main.ts '<ProxyOptions as JSON>'`.
// Prints `PORT <n>` once listening.
import { createProxy } from '../../src/proxy/proxy.js';

const proxy = createProxy(JSON.parse(process.argv[2] ?? '{}'));
const { port } = await proxy.listen(0);
process.stdout.write(`PORT ${port}\n`);
