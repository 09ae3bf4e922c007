// Runs the test suite with node's test runner: unit tests beside the code (src/**/*.test.ts),
// then test/integration and test/fault. `node test/run.js unit` runs only the unit tests;
// other arguments filter files by substring. Fault tests run one file at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

const args = process.argv.slice(2);
let files = find('src');
if (args[0] !== 'unit') files = files.concat(find('test'));
const filters = args.filter((a) => a !== 'unit');
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Bounded: a test that hangs fails after five minutes, and a file whose tests have all ended
// exits even if something it started still holds the event loop (once, in ~10 runs of
// redis-cluster.test.ts, that file's process stayed up after its last test, and npm test with it).
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-timeout=300000',
    '--test-force-exit',
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
