// bench/membership-soak.ts as a row of bench/RESULTS.md: 5 members, 10 minutes, in a child
// process (its own exit code and output), so `npm run bench` reports it beside the others.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Row } from './lib/table.js';

export async function benchMembershipSoak(minutes = 10, members = 5): Promise<Row[]> {
  const script = fileURLToPath(new URL('./membership-soak.ts', import.meta.url));
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, String(minutes), String(members)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
  const last = /soak .* (\d+) deaths, (\d+) suspicions/.exec(out);
  return [
    {
      group: `${members} members as processes, default settings, ${minutes} minutes`,
      name: 'members declared dead (false positives)',
      ...(last
        ? { note: `${last[1]} deaths, ${last[2]} suspicions (target: 0 deaths)` }
        : { note: 'did not run' }),
    },
  ];
}
