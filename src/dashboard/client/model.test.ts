// The dashboard's message checks and chart scale, in node (no DOM needed for these).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSnapshot, parseTimelineEvent } from './model.js';
import { niceCeiling } from './chart.js';

const good = {
  viewId: 3,
  members: [
    {
      name: 'node1',
      state: 'alive',
      url: 'http://127.0.0.1:1',
      pid: 7,
      ready: true,
      sessions: 2,
      partitionsOwned: 1,
      partitionsBacked: 1,
      requests: 9,
    },
  ],
  partitions: { count: 2, owners: ['node1', null], backups: [['node2'], []] },
};

describe('dashboard messages', () => {
  it('reads a snapshot as documented', () => {
    const s = parseSnapshot(JSON.stringify(good))!;
    assert.equal(s.viewId, 3);
    assert.deepEqual(s.members[0], good.members[0]);
    assert.deepEqual(s.partitions, good.partitions);
  });

  it('rejects a message that is not a snapshot', () => {
    for (const bad of [
      '',
      'not json',
      'null',
      '[]',
      '{"members":5,"partitions":{}}',
      '{"members":[]}',
    ])
      assert.equal(parseSnapshot(bad), undefined, bad);
  });

  it('drops malformed members and fills missing figures with zero', () => {
    const s = parseSnapshot(
      JSON.stringify({
        members: [{ name: 1, state: 'alive' }, { name: 'n', state: 'dead', sessions: 'many' }, 5],
        partitions: { count: 1e9, owners: [3, 'n'], backups: ['x', ['n', 4]] },
      }),
    )!;
    assert.deepEqual(
      s.members.map((m) => [m.name, m.sessions, m.pid]),
      [['n', 0, null]],
    );
    assert.equal(s.partitions.count, 65_536, 'a huge count is capped: no million DOM cells');
    assert.deepEqual(s.partitions.owners, [null, 'n']);
    assert.deepEqual(s.partitions.backups, [[], ['n']]);
  });

  it('reads timeline events and rejects malformed ones', () => {
    assert.deepEqual(parseTimelineEvent('{"at":1,"kind":"dead","member":"node2","detail":"x"}'), {
      at: 1,
      kind: 'dead',
      member: 'node2',
      detail: 'x',
    });
    for (const bad of ['{', '{"kind":3,"member":"a"}', '{"kind":"dead"}', '"dead"'])
      assert.equal(parseTimelineEvent(bad), undefined, bad);
  });
});

describe('chart scale', () => {
  it('rounds the top of the axis up to 1, 2 or 5 times a power of ten', () => {
    const cases: [number, number][] = [
      [0, 1],
      [Number.NaN, 1],
      [0.3, 0.5],
      [1, 1],
      [1.1, 2],
      [3, 5],
      [7, 10],
      [120, 200],
      [5000, 5000],
    ];
    for (const [v, top] of cases) assert.equal(niceCeiling(v), top, String(v));
  });
});
