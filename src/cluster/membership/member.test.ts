import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipQueue, retransmitLimit } from './gossip-queue.js';
import { fromRecord, supersedes, toRecord, type Member, type MemberState } from './member.js';
import { Suspicion } from './suspicion.js';

const m = (state: MemberState, incarnation: number): Member => ({
  name: 'x',
  address: 'a',
  incarnation,
  state,
  data: true,
});

describe('member update order', () => {
  it('a higher incarnation wins whatever the states', () => {
    assert.ok(supersedes(m('alive', 2), m('dead', 1)));
    assert.ok(!supersedes(m('dead', 1), m('alive', 2)));
  });

  it('at one incarnation, alive < suspect < dead < left', () => {
    assert.ok(supersedes(m('suspect', 1), m('alive', 1)));
    assert.ok(supersedes(m('dead', 1), m('suspect', 1)));
    assert.ok(supersedes(m('left', 1), m('dead', 1)));
    assert.ok(!supersedes(m('alive', 1), m('suspect', 1)), 'only a higher incarnation refutes');
    assert.ok(!supersedes(m('alive', 1), m('alive', 1)), 'the same update twice changes nothing');
  });

  it('malformed records are refused field by field', () => {
    assert.ok(fromRecord(toRecord(m('alive', 3))));
    for (const bad of [
      null,
      7,
      {},
      { ...toRecord(m('alive', 1)), n: 'bad name' },
      { ...toRecord(m('alive', 1)), i: -1 },
      { ...toRecord(m('alive', 1)), s: 'zombie' },
      { ...toRecord(m('alive', 1)), d: 'yes' },
      { ...toRecord(m('alive', 1)), a: '' },
    ]) {
      assert.equal(fromRecord(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('GossipQueue', () => {
  it('sends the least-sent updates first and drops each after its limit', () => {
    const q = new GossipQueue();
    q.enqueue({ n: 'a', a: 'a', i: 0, s: 'alive', d: true });
    q.enqueue({ n: 'b', a: 'b', i: 0, s: 'alive', d: true });
    assert.deepEqual(
      q.take(1, 2).map((r) => r.n),
      ['a'],
    );
    assert.deepEqual(
      q.take(1, 2).map((r) => r.n),
      ['b'],
    );
    q.take(2, 2);
    assert.equal(q.size, 0);
  });

  it('a newer update about a member replaces the queued one', () => {
    const q = new GossipQueue();
    q.enqueue({ n: 'a', a: 'a', i: 0, s: 'alive', d: true });
    q.enqueue({ n: 'a', a: 'a', i: 0, s: 'suspect', d: true });
    assert.deepEqual(
      q.take(8, 4).map((r) => r.s),
      ['suspect'],
    );
  });

  it('retransmits mult * ceil(log10(n + 1)) times', () => {
    assert.equal(retransmitLimit(4, 3), 4);
    assert.equal(retransmitLimit(4, 10), 8);
  });
});

describe('Suspicion (Lifeguard)', () => {
  it('starts at max and reaches min after k independent confirmations', () => {
    const s = new Suspicion(1000, 2000, 3, 'a', () => {});
    assert.equal(s.timeoutMs(), 2000);
    assert.ok(s.confirm('b'));
    assert.ok(!s.confirm('b'), 'a member confirms once');
    assert.ok(s.timeoutMs() < 2000 && s.timeoutMs() > 1000);
    s.confirm('c');
    s.confirm('d');
    assert.equal(s.timeoutMs(), 1000);
    s.cancel();
  });

  it('with k = 0 the timeout is min', () => {
    const s = new Suspicion(1000, 2000, 0, 'a', () => {});
    assert.equal(s.timeoutMs(), 1000);
    s.cancel();
  });
});
