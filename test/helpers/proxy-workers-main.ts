// Child-process entry: a proxy primary with workers. `node --import tsx proxy-workers-main.ts '<WorkersOptions JSON>'`.
// Prints `PORT <n>` once every worker listens.
import { startProxyWorkers } from '../../src/proxy/workers.js';

const workers = await startProxyWorkers(JSON.parse(process.argv[2] ?? '{}'));
process.stdout.write(`PORT ${workers.port}\n`);
process.on('SIGTERM', () => void workers.close().then(() => process.exit(0)));
