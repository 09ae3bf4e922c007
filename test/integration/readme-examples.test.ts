// The README's examples run as written: each is a file in examples/, quoted verbatim in the
// README, started here as its own process against the built package.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from '../helpers/http-client.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README examples', () => {
  for (const example of ['express', 'fastify', 'node']) {
    it(`runs the ${example} example as the README shows it`, async (t) => {
      const path = new URL(`../../examples/${example}.mjs`, import.meta.url);
      assert.ok(
        readme.includes(readFileSync(path, 'utf8').trim()),
        `README quotes examples/${example}.mjs verbatim`,
      );
      const child = spawn(process.execPath, [path.pathname], {
        env: { ...process.env, PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      t.after(() => child.kill('SIGKILL'));
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error('example did not start in 10 s')), 10_000);
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const match = /listening (\d+)/.exec(out);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
      });
      const client = new Client(`http://127.0.0.1:${port}`);
      assert.match((await client.get('/')).body, /views\D+1/);
      assert.match((await client.get('/')).body, /views\D+2/);
    });
  }
});
