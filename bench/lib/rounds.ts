// Measuring several servers against each other on a machine whose speed drifts: every server is
// started first (an idle one costs nothing), then measured in rounds, one run of each per round,
// and the median of its rounds kept. A drift during the minutes this takes touches every server
// alike, so their ratios do not depend on when each one ran. Each run follows its own 1 s
// warm-up: without it, servers that had sat idle for a round measured lower, the ones that
// allocate more per request the most (sessionmesh + RedisStore 1.22x connect-redis against 1.54x
// measured one server after the other); V8 shrinking an idle heap is the likely reason.
import { median, type LoadResult } from './wrk.js';
import type { Row } from './table.js';

export interface Contender {
  name: string;
  /** One wrk run of `durationS` against this server. */
  run(durationS: number): Promise<LoadResult>;
  stop(): Promise<void>;
}

/**
 * Starts every contender (in order), runs `repeats` rounds of a 1 s warm-up then `durationS`
 * measured, stops them all, and gives each one's median run.
 */
export async function measureInRounds(
  start: (() => Promise<Contender>)[],
  options: { durationS?: number; repeats?: number } = {},
): Promise<Map<string, LoadResult>> {
  const contenders: Contender[] = [];
  try {
    for (const begin of start) {
      contenders.push(await begin());
    }
    const runs = new Map<string, LoadResult[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < (options.repeats ?? 3); round++) {
      for (const contender of contenders) {
        await contender.run(1);
        runs.get(contender.name)!.push(await contender.run(options.durationS ?? 4));
      }
    }
    return new Map([...runs].map(([name, results]) => [name, median(results)]));
  } finally {
    for (const contender of contenders) await contender.stop();
  }
}

/** The table row of a measured server; wrk's errors, when it saw any, replace the note. */
export function rowOf(group: string, name: string, result: LoadResult, note?: string): Row {
  return {
    group,
    name,
    reqPerSec: result.reqPerSec,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    ...(note !== undefined && { note }),
    ...(result.errors > 0 && { note: `${result.errors} errors` }),
  };
}
