import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planMigration } from './migration.js';
import { PartitionTable } from './partition-table.js';

const table = (names: string[], backups = 1) =>
  new PartitionTable(
    { viewId: 1, members: names.map((name) => ({ name, address: name })) },
    { backups },
  );

describe('planMigration', () => {
  it('pulls every partition a joining member now holds from the previous replicas', () => {
    const before = table(['a', 'b']);
    const after = table(['a', 'b', 'c']);
    const plan = planMigration(before, after, 'c', new Set());
    const held = [...Array(271).keys()].filter((p) => after.roleOf(p, 'c') !== undefined);
    assert.deepEqual(
      plan.pulls.map((x) => x.p).sort((x, y) => x - y),
      held,
    );
    for (const { p, from } of plan.pulls) assert.deepEqual(from, before.replicas(p));
    assert.deepEqual(plan.pushes, []);
  });

  it('promotes a backup whose owner died, with no pull', () => {
    const before = table(['a', 'b', 'c']);
    const after = table(['a', 'c']);
    const plan = planMigration(before, after, 'c', new Set());
    for (const p of plan.promotions) {
      assert.equal(before.roleOf(p, 'c'), 'backup');
      assert.equal(after.roleOf(p, 'c'), 'owner');
    }
    assert.ok(plan.promotions.length > 0);
    for (const { from } of plan.pulls) assert.ok(from.every((m) => m.name !== 'b'));
  });

  it('has a former owner push to the new owner, dropping only what it no longer holds', () => {
    const before = table(['a', 'b']);
    const after = table(['a', 'b', 'c']);
    const plan = planMigration(before, after, 'a', new Set([...Array(271).keys()]));
    for (const { p, to, drop } of plan.pushes) {
      assert.deepEqual(
        to.map((m) => m.name),
        after
          .replicas(p)
          .map((m) => m.name)
          .filter((n) => n !== 'a'),
      );
      assert.equal(to[0]!.name, after.owner(p)!.name);
      assert.equal(drop, after.roleOf(p, 'a') === undefined);
      assert.ok(before.roleOf(p, 'a') !== undefined);
    }
  });

  it('pushes leftovers it holds without any role to their owner', () => {
    const t = table(['a', 'b', 'c']);
    const p = [...Array(271).keys()].find((x) => t.roleOf(x, 'c') === undefined)!;
    const plan = planMigration(t, t, 'c', new Set([p]));
    assert.deepEqual(plan.pushes, [{ p, to: [...t.replicas(p)], drop: true }]);
  });

  it('has every holder pull from a member new to its view (a healed split may hold writes)', () => {
    const before = table(['a', 'b']);
    const after = table(['a', 'b', 'c']);
    const plan = planMigration(before, after, 'a', new Set());
    const mine = [...Array(271).keys()].filter((p) => after.roleOf(p, 'a') !== undefined);
    assert.deepEqual(
      plan.pulls.map((x) => x.p),
      mine,
    );
    for (const { p, from, owner } of plan.pulls) {
      assert.ok(from.some((m) => m.name === 'c'));
      assert.equal(owner, after.owner(p)!.name === 'a');
    }
  });

  it('pulls nothing when the view only lost members and the role was kept', () => {
    const before = table(['a', 'b', 'c']);
    const after = table(['a', 'b']);
    const plan = planMigration(before, after, 'a', new Set());
    for (const { p } of plan.pulls) assert.equal(before.roleOf(p, 'a'), undefined);
  });

  it('marks the partitions whose owner changed', () => {
    const before = table(['a', 'b']);
    const after = table(['a', 'b', 'c']);
    const plan = planMigration(before, after, 'a', new Set());
    for (let p = 0; p < 271; p++)
      assert.equal(plan.ownerChanged.has(p), before.owner(p)!.name !== after.owner(p)!.name);
  });
});
