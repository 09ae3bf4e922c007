import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MergeCoalescer } from './merge-coalescer.js';
import { merge } from '../session/merge.js';
import type { SessionRecord } from '../session/record.js';

/** A write that the test completes by hand, recording what it was given. */
function manualWrites() {
  const calls: { id: string; delta: SessionRecord; done: (err?: unknown) => void }[] = [];
  const write = (id: string, delta: SessionRecord) =>
    new Promise<void>((resolve, reject) =>
      calls.push({ id, delta, done: (err) => (err ? reject(err) : resolve()) }),
    );
  return { calls, write };
}

const attr = (key: string, t: string, j = '1'): SessionRecord => ({ attrs: { [key]: { j, t } } });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('MergeCoalescer', () => {
  it('sends the first delta of a session at once and joins the ones that arrive meanwhile', async () => {
    const { calls, write } = manualWrites();
    const c = new MergeCoalescer(write);
    const settled: string[] = [];
    const p1 = c.merge('s', attr('a', 'T1')).then(() => settled.push('a'));
    const p2 = c.merge('s', attr('b', 'T2')).then(() => settled.push('b'));
    const p3 = c
      .merge('s', { ...attr('a', 'T3', '2'), accessedAt: 5 })
      .then(() => settled.push('c'));
    assert.equal(calls.length, 1, 'one write in flight per session');
    calls[0]!.done();
    await p1;
    await tick();
    assert.deepEqual(settled, ['a'], 'the waiting deltas are not acknowledged by the first write');
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.delta, {
      attrs: { a: { j: '2', t: 'T3' }, b: { j: '1', t: 'T2' } },
      accessedAt: 5,
    });
    calls[1]!.done();
    await Promise.all([p2, p3]);
    assert.deepEqual(settled.sort(), ['a', 'b', 'c']);
    assert.equal(c.writes, 2);
    assert.equal(c.deltas, 3);
  });

  it('writes different sessions in parallel', () => {
    const { calls, write } = manualWrites();
    const c = new MergeCoalescer(write);
    void c.merge('s1', attr('a', 'T1'));
    void c.merge('s2', attr('a', 'T1'));
    assert.deepEqual(
      calls.map((x) => x.id),
      ['s1', 's2'],
    );
  });

  it('sends a destroy alone and at once', () => {
    const { calls, write } = manualWrites();
    const c = new MergeCoalescer(write);
    void c.merge('s', attr('a', 'T1'));
    void c.merge('s', { destroyed: 'T2' });
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.delta, { destroyed: 'T2' });
  });

  it('rejects every delta of a failed write, and still sends the next batch', async () => {
    const { calls, write } = manualWrites();
    const c = new MergeCoalescer(write);
    const first = c.merge('s', attr('a', 'T1'));
    const second = c.merge('s', attr('b', 'T2'));
    const third = c.merge('s', attr('c', 'T3'));
    calls[0]!.done(new Error('down'));
    await assert.rejects(first, /down/);
    await tick();
    calls[1]!.done(new Error('still down'));
    await assert.rejects(second, /still down/);
    await assert.rejects(third, /still down/);
    const fourth = c.merge('s', attr('d', 'T4'));
    assert.equal(calls.length, 3, 'the lane closed: a new delta goes at once');
    calls[2]!.done();
    await fourth;
  });

  it('leaves a session as the same deltas written one by one would', async () => {
    let stored: SessionRecord = {};
    let oneByOne: SessionRecord = {};
    const c = new MergeCoalescer(async (_id, delta) => {
      await tick();
      stored = merge(stored, delta);
    });
    const deltas: SessionRecord[] = [];
    for (let i = 0; i < 60; i++) {
      const t = `T${String((i * 37) % 60).padStart(3, '0')}`;
      deltas.push({
        ...attr(`k${i % 7}`, t, String(i)),
        accessedAt: 1000 + ((i * 13) % 17),
        ...(i % 5 === 0 && { principal: { v: `u${i}`, t } }),
        ...(i % 9 === 0 && { attrs: { [`k${i % 7}`]: { t } } }),
      });
    }
    for (const d of deltas) oneByOne = merge(oneByOne, d);
    await Promise.all(deltas.map((d) => c.merge('s', d)));
    assert.deepEqual(stored, oneByOne);
    assert.ok(c.writes < deltas.length / 4, `${c.writes} writes for ${deltas.length} deltas`);
  });
});
