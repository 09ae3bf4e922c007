// The cluster's operation figures alone (section (a) of bench/cluster.ts: no migration, no
// failure detection), for quick before/after comparisons: node --import tsx bench/cluster-ops.ts
import { benchCluster } from './cluster.js';
import { toMarkdown } from './lib/table.js';

console.log(toMarkdown(await benchCluster(false)));
