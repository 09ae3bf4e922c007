// Command-line flags: `--name value`, `--name=value`, booleans as `--flag`; each value can also
// come from an environment variable or a JSON config file (`--config`), in that order of
// precedence: flag, environment, config file, default. Unknown flags and bad values are
// refused with a message that names the value and the valid choices.

import { readFileSync } from 'node:fs';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  describe: string;
  default?: string | number | boolean | readonly string[];
  choices?: readonly string[];
  /** Environment variable that may carry the value. */
  env?: string;
  min?: number;
  max?: number;
  /** Refuse to start without it. */
  required?: boolean;
}

export type Specs = Record<string, FlagSpec>;
export type Parsed = Record<string, string | number | boolean | string[] | undefined>;

/** A usage mistake: printed as is, exit code 2. */
export class UsageError extends Error {}

export function parseFlags(
  command: string,
  argv: readonly string[],
  specs: Specs,
  env = process.env,
): Parsed {
  const given: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec =
      specs[name] ?? (name === 'config' ? { type: 'string' as const, describe: '' } : undefined);
    if (!spec) {
      throw new UsageError(
        `sessionmesh ${command}: unknown flag --${name}; valid flags: ${Object.keys(specs)
          .map((f) => `--${f}`)
          .join(', ')}, --config`,
      );
    }
    if (eq !== -1) given[name] = arg.slice(eq + 1);
    else if (spec.type === 'boolean') given[name] = true;
    else {
      const value = argv[++i];
      if (value === undefined)
        throw new UsageError(`sessionmesh ${command}: --${name} needs a value`);
      given[name] = value;
    }
  }
  if (positionals.length > 0) {
    throw new UsageError(`sessionmesh ${command}: unexpected argument "${positionals[0]}"`);
  }
  const config = typeof given.config === 'string' ? readConfig(command, given.config) : {};
  const out: Parsed = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw =
      given[name] ?? (spec.env ? env[spec.env] : undefined) ?? config[name] ?? config[camel(name)];
    const value = raw === undefined ? spec.default : convert(command, name, spec, raw);
    if (value === undefined && spec.required) {
      throw new UsageError(
        `sessionmesh ${command}: --${name} is required${spec.env ? ` (or the environment variable ${spec.env})` : ''}: ${spec.describe}`,
      );
    }
    out[name] = Array.isArray(value) ? [...value] : (value as Parsed[string]);
  }
  return out;
}

function convert(command: string, name: string, spec: FlagSpec, raw: unknown): Parsed[string] {
  const bad = (accepted: string) =>
    new UsageError(
      `sessionmesh ${command}: --${name} must be ${accepted}; got ${JSON.stringify(raw)}`,
    );
  switch (spec.type) {
    case 'boolean':
      if (raw === true || raw === 'true' || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === '0') return false;
      throw bad('true or false');
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(n) || (typeof raw === 'string' && raw.trim() === ''))
        throw bad('a number');
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw bad(`a number from ${spec.min ?? '-∞'} to ${spec.max ?? '∞'}`);
      }
      return n;
    }
    case 'list':
      if (Array.isArray(raw)) return raw.map(String);
      return String(raw)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'string': {
      const s = String(raw);
      if (spec.choices && !spec.choices.includes(s)) throw bad(`one of ${spec.choices.join(', ')}`);
      return s;
    }
  }
}

function readConfig(command: string, path: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(
      `sessionmesh ${command}: cannot read --config ${path}: ${(err as Error).message}`,
    );
  }
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The help text of a command's flags. */
export function describeFlags(specs: Specs): string {
  return Object.entries(specs)
    .map(([name, spec]) => {
      const extra = [
        spec.choices ? `one of ${spec.choices.join('|')}` : '',
        spec.default !== undefined ? `default ${String(spec.default)}` : '',
        spec.env ? `env ${spec.env}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      return `  --${name.padEnd(16)} ${spec.describe}${extra ? ` (${extra})` : ''}`;
    })
    .concat('  --config FILE      read flags from a JSON file (keys: flag names)')
    .join('\n');
}
