// The browser modules of the dashboard, read from disk beside this file: the compiled .js in
// dist/dashboard/client/, or, when running from src/ (tests under tsx), the .ts sources
// transpiled once by esbuild (a dependency of tsx; never needed by an installed package).

import { readdirSync, readFileSync } from 'node:fs';

const CLIENT_DIR = new URL('./client/', import.meta.url);

export interface ClientModules {
  /** Module names (`dashboard`, `members`, …) the browser may ask for. */
  readonly names: ReadonlySet<string>;
  /** The JavaScript of one module, or undefined for an unknown name. */
  load(name: string): Promise<string | undefined>;
}

export function createClientModules(): ClientModules {
  const files = readdirSync(CLIENT_DIR);
  const compiled = files.some((f) => f.endsWith('.js'));
  const names = new Set(
    files
      .filter((f) => (compiled ? f.endsWith('.js') : f.endsWith('.ts') && !f.endsWith('.d.ts')))
      .filter((f) => !f.includes('.test.'))
      .map((f) => f.replace(/\.(js|ts)$/, '')),
  );
  const cache = new Map<string, Promise<string>>();
  return {
    names,
    load(name) {
      if (!names.has(name)) return Promise.resolve(undefined);
      let code = cache.get(name);
      if (!code) {
        code = compiled ? readCompiled(name) : transpile(name);
        // A failed transpile is not cached: the next request tries again.
        code.catch(() => cache.delete(name));
        cache.set(name, code);
      }
      return code;
    },
  };
}

async function readCompiled(name: string): Promise<string> {
  const text = readFileSync(new URL(`${name}.js`, CLIENT_DIR), 'utf8');
  // The source maps stay on disk: the browser would only ask for them and get a 404.
  return text.replace(/^\/\/# sourceMappingURL=.*$/m, '');
}

/** The one esbuild call used here, typed locally: esbuild is not a dependency of the package. */
interface Transpiler {
  transform(
    source: string,
    options: { loader: 'ts'; format: 'esm'; target: string; sourcefile: string },
  ): Promise<{ code: string }>;
}

async function transpile(name: string): Promise<string> {
  const source = readFileSync(new URL(`${name}.ts`, CLIENT_DIR), 'utf8');
  const specifier = 'esbuild';
  const esbuild = (await import(specifier)) as Transpiler;
  const result = await esbuild.transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
    sourcefile: `${name}.ts`,
  });
  return result.code;
}
