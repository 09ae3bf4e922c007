// principal → session ids, for "find or revoke every session of a user".

export class PrincipalIndex {
  readonly #byPrincipal = new Map<string, Set<string>>();
  readonly #bySession = new Map<string, string>();

  /** Records that session `id` now belongs to `principal` (null: to nobody). */
  set(id: string, principal: string | null): void {
    const previous = this.#bySession.get(id);
    if (previous === principal) return;
    if (previous !== undefined) {
      const ids = this.#byPrincipal.get(previous)!;
      ids.delete(id);
      if (ids.size === 0) this.#byPrincipal.delete(previous);
      this.#bySession.delete(id);
    }
    if (principal === null) return;
    this.#bySession.set(id, principal);
    let ids = this.#byPrincipal.get(principal);
    if (!ids) this.#byPrincipal.set(principal, (ids = new Set()));
    ids.add(id);
  }

  ids(principal: string): string[] {
    return [...(this.#byPrincipal.get(principal) ?? [])];
  }
}
