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
  const runs = await runRounds(start, options);
  return new Map([...runs].map(([name, results]) => [name, median(results)]));
}

/** measureInRounds() without the medians: each contender's runs, one per round, in order. */
export async function runRounds(
  start: (() => Promise<Contender>)[],
  options: { durationS?: number; repeats?: number } = {},
): Promise<Map<string, LoadResult[]>> {
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
    return runs;
  } finally {
    for (const contender of contenders) await contender.stop();
  }
}

/**
 * The median over rounds of `a`'s req/s over `b`'s in the same round. Two servers measured
 * seconds apart share the machine's speed of that moment, so this ratio moves less from run to
 * run than the ratio of the two medians, which may come from different rounds.
 */
export function pairedRatio(
  a: readonly LoadResult[],
  b: readonly LoadResult[],
): { median: number; min: number; max: number } {
  const ratios = a.map((run, i) => run.reqPerSec / b[i]!.reqPerSec).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return {
    median: ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2,
    min: ratios[0]!,
    max: ratios[ratios.length - 1]!,
  };
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
