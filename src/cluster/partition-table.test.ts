import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PartitionTable, partitionOf } from './partition-table.js';
import type { MemberAddress } from './transport/transport.js';

const member = (name: string): MemberAddress => ({ name, address: `mem:${name}` });
const names = (min: number, max: number) =>
  fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { minLength: min, maxLength: max });
const table = (ns: string[], backups = 1, viewId = 1) =>
  new PartitionTable({ viewId, members: ns.map(member) }, { backups });

describe('partitionOf', () => {
  it('is a stable function of the id (these values must never change across versions)', () => {
    assert.deepEqual(
      [
        'abcdefghijklmnopqrstuvwxyz012345',
        'ZZZZZZZZZZZZZZZZZZZZZZ',
        'session-id-number-one-xxxxxxxx',
      ].map((id) => partitionOf(id)),
      [121, 4, 88],
    );
  });

  it('spreads random ids evenly over the partitions', () => {
    const counts = new Array<number>(271).fill(0);
    for (let i = 0; i < 271_00; i++)
      counts[partitionOf(`id-${i}-${(i * 2654435761) % 1000003}`)]!++;
    assert.ok(
      Math.min(...counts) > 50 && Math.max(...counts) < 150,
      `${Math.min(...counts)}..${Math.max(...counts)}`,
    );
  });
});

describe('PartitionTable', () => {
  it('is the same whatever order the members are listed in', () => {
    fc.assert(
      fc.property(names(1, 10), (ns) => {
        const a = table(ns, 2);
        const b = table([...ns].reverse(), 2);
        for (let p = 0; p < 271; p++) assert.deepEqual(a.replicas(p), b.replicas(p));
      }),
      { numRuns: 30 },
    );
  });

  it('gives every member of 3 to 10 an owner share within ±20% of 271/n', () => {
    fc.assert(
      fc.property(names(3, 10), (ns) => {
        const t = table(ns);
        for (const name of ns) {
          const owned = t.ownedBy(name).length;
          assert.ok(
            Math.abs(owned - 271 / ns.length) <= 0.2 * (271 / ns.length),
            `${name} owns ${owned}`,
          );
        }
      }),
      { numRuns: 50 },
    );
  });

  it('places the owner and distinct backups for every partition', () => {
    fc.assert(
      fc.property(names(1, 8), fc.integer({ min: 0, max: 4 }), (ns, backups) => {
        const t = table(ns, backups);
        for (let p = 0; p < 271; p++) {
          const replicas = t.replicas(p).map((m) => m.name);
          assert.equal(replicas.length, Math.min(backups + 1, ns.length));
          assert.equal(new Set(replicas).size, replicas.length);
          assert.equal(t.roleOf(p, replicas[0]!), 'owner');
          for (const b of replicas.slice(1)) assert.equal(t.roleOf(p, b), 'backup');
        }
      }),
      { numRuns: 30 },
    );
  });

  it('replicates every partition on every member when backups >= members - 1', () => {
    const t = table(['a', 'b', 'c'], 5);
    assert.equal(t.backups, 2);
    for (let p = 0; p < 271; p++) assert.equal(t.replicas(p).length, 3);
  });

  it('moves few more owners than the 271/(n+1) a join must move', () => {
    fc.assert(
      fc.property(names(4, 11), (all) => {
        const before = table(all.slice(0, -1));
        const after = table(all);
        let moved = 0;
        for (let p = 0; p < 271; p++) if (before.owner(p)!.name !== after.owner(p)!.name) moved++;
        assert.ok(moved <= 2 * Math.ceil(271 / all.length), `moved ${moved}`);
      }),
      { numRuns: 50 },
    );
  });

  it('on a leave, moves the leaver’s partitions and few others', () => {
    fc.assert(
      fc.property(names(4, 10), (all) => {
        const before = table(all);
        const leaver = all[0]!;
        const after = table(all.slice(1));
        let others = 0;
        for (let p = 0; p < 271; p++) {
          const was = before.owner(p)!.name;
          if (was !== leaver && after.owner(p)!.name !== was) others++;
        }
        assert.ok(
          others <= Math.ceil(271 / all.length),
          `moved ${others} partitions of members that stayed`,
        );
      }),
      { numRuns: 50 },
    );
  });

  it('has no owner when the view is empty', () => {
    const t = table([]);
    assert.equal(t.owner(0), undefined);
    assert.deepEqual(t.replicas(0), []);
  });

  it('refuses a partition count or a backup count out of range', () => {
    for (const partitionCount of [0, -1, 1.5, 70000]) {
      assert.throws(() => new PartitionTable({ viewId: 1, members: [] }, { partitionCount }), {
        code: 'SM_ERR_OPTION_INVALID',
      });
    }
    assert.throws(() => new PartitionTable({ viewId: 1, members: [] }, { backups: -1 }), {
      code: 'SM_ERR_OPTION_INVALID',
    });
  });
});
