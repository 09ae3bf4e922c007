import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionRecord } from '../../session/record.js';
import { createCounters } from '../metrics.js';
import type { PartitionTable } from '../partition-table.js';
import type { Body, Transport } from '../transport/transport.js';
import { BackupRounds } from './backup-rounds.js';

/** A transport whose map.backup rounds are answered by the test; it keeps what each carried. */
function backupLink() {
  const sent: { attrs: string[]; answer: (body: Body) => void }[] = [];
  const transport = {
    self: { name: 'a', address: 'a' },
    request(_to: unknown, _type: string, body: Body): Promise<Body> {
      // What the round carries, read as it is sent (the frame is encoded at once).
      const attrs = Object.keys((body['r'] as SessionRecord).attrs ?? {}).sort();
      return new Promise((resolve) => sent.push({ attrs, answer: resolve }));
    },
  } as unknown as Transport;
  return { transport, sent };
}

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('BackupRounds', () => {
  it('answers a merge by the round in flight when it was applied before that round was sent, else by the next', async () => {
    const { transport, sent } = backupLink();
    let version = 0;
    const record: SessionRecord = { attrs: {} };
    const apply = (name: string): number => {
      record.attrs![name] = { j: '1', t: String(++version) };
      return version;
    };
    const counters = createCounters();
    const rounds = new BackupRounds({
      transport,
      counters,
      writeMode: 'sync',
      requestTimeoutMs: 1000,
      table: () =>
        ({ backupsOf: () => [{ name: 'b', address: 'b' }] }) as unknown as PartitionTable,
      current: () => record,
      version: () => version,
    });
    const outcomes: string[] = [];
    const track = (name: string, ack: Promise<boolean>): void =>
      void ack.then((ok) => outcomes.push(`${name}:${ok}`));

    // m1 and m2 are applied together; m1 starts round 1, which carries both.
    const m1 = apply('m1');
    const m2 = apply('m2');
    track('m1', rounds.backUp(0, 'id', record, m1));
    // m2 calls in after round 1 left: applied before it, it rides on it.
    track('m2', rounds.backUp(0, 'id', record, m2));
    // m3 is applied after round 1 left: it waits for round 2.
    track('m3', rounds.backUp(0, 'id', record, apply('m3')));
    assert.deepEqual(
      sent.map((r) => r.attrs),
      [['m1', 'm2']],
    );
    sent[0]!.answer({ ok: true });
    await settled();
    assert.deepEqual(outcomes.sort(), ['m1:true', 'm2:true']);
    // Round 2 carries m3; its failure fails m3 alone.
    assert.deepEqual(sent[1]!.attrs, ['m1', 'm2', 'm3']);
    sent[1]!.answer({ retry: 'not-backup' });
    await settled();
    assert.deepEqual(outcomes.sort(), ['m1:true', 'm2:true', 'm3:false']);
    assert.deepEqual(counters.backup, { merges: 3, rounds: 2 });
  });
});
