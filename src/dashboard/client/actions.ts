/// <reference lib="dom" />
// The node controls of the demo (docs/admin-api.md): POSTs to /_mesh/api/nodes…, answered 202
// at once; the effect then shows up in the snapshots and the timeline.

import type { MemberAction } from './members.js';

export interface Notice {
  show(text: string, error?: boolean): void;
}

export function createNotice(node: HTMLElement): Notice {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    show(text, error = false) {
      node.textContent = text;
      node.classList.toggle('error', error);
      node.classList.add('show');
      clearTimeout(timer);
      timer = setTimeout(() => node.classList.remove('show'), 4000);
    },
  };
}

export async function controlMember(
  action: MemberAction,
  name: string,
  notice: Notice,
): Promise<void> {
  await post(`/_mesh/api/nodes/${encodeURIComponent(name)}/${action}`, `${action} ${name}`, notice);
}

export async function addNode(notice: Notice): Promise<void> {
  await post('/_mesh/api/nodes', 'add node', notice);
}

async function post(path: string, what: string, notice: Notice): Promise<void> {
  try {
    const res = await fetch(path, { method: 'POST', headers: { accept: 'application/json' } });
    const body = (await res.json().catch(() => ({}))) as { name?: unknown; error?: unknown };
    if (res.ok) {
      const added = typeof body.name === 'string' ? `: ${body.name}` : '';
      notice.show(`${what}: accepted${added}`);
    } else {
      const reason = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      notice.show(`${what} refused: ${reason}`, true);
    }
  } catch (err) {
    notice.show(`${what} failed: ${(err as Error).message}`, true);
  }
}
