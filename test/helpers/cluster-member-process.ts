// Starts cluster members (test/helpers/cluster-member.ts) as child processes and reads their
// JSON-line reports. Every child is tracked so a test's after hook can SIGKILL it by pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Report {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface MemberProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly reports: Report[];
  address: string;
  /** Resolves with the first report (already seen or coming) that matches, or rejects after `timeoutMs`. */
  waitFor(match: (r: Report) => boolean, timeoutMs: number, what?: string): Promise<Report>;
  /** SIGKILL (after SIGCONT, in case it is stopped); resolves when it exited. */
  kill(): Promise<void>;
}

const script = fileURLToPath(new URL('./cluster-member.ts', import.meta.url));

export async function startMember(
  name: string,
  seeds: string[],
  timeoutMs = 15_000,
): Promise<MemberProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, name, seeds.join(',')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const reports: Report[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      reports.push(JSON.parse(line) as Report);
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const member: MemberProcess = {
    name,
    child,
    reports,
    address: '',
    waitFor(match, ms, what = 'a report') {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = reports.find(match);
          if (found === undefined) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no ${what} within ${ms} ms`));
        }, ms);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = (): void => void check();
        waiters.add(waiter);
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
  };
  const ready = await member.waitFor((r) => r.type === 'ready', timeoutMs, 'ready');
  member.address = ready['address'] as string;
  return member;
}

/** The latest view a member reported. */
export function lastView(member: MemberProcess): { digest: string; members: string[] } | undefined {
  const views = member.reports.filter((r) => r.type === 'view');
  const v = views[views.length - 1];
  return v === undefined
    ? undefined
    : { digest: v['digest'] as string, members: v['members'] as string[] };
}

/** Starts a 3-member cluster (m0 is the seed) and waits until every member sees all three. */
export async function startCluster(count = 3): Promise<MemberProcess[]> {
  const seed = await startMember('m0', []);
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, (_, i) => startMember(`m${i + 1}`, [seed.address])),
  );
  const all = [seed, ...rest];
  const names = all
    .map((m) => m.name)
    .sort()
    .join();
  await Promise.all(
    all.map((m) =>
      m.waitFor(
        (r) => r.type === 'view' && (r['members'] as string[]).join() === names,
        10_000,
        'full view',
      ),
    ),
  );
  return all;
}
