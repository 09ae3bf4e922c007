// Entry of a proxy worker process forked by workers.ts.
import { runProxyWorker } from './workers.js';

await runProxyWorker();
