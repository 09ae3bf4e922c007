// Lint rules, including the layer boundaries of DESIGN.md: each folder under
// src/ may import only the layers listed before it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeNet = ['node:http', 'node:https', 'node:net', 'node:tls', 'node:http2', 'node:dgram'];
const frameworks = ['express', 'fastify', 'express-session', 'redis', 'pg'];

function layer(files, forbiddenFolders, forbiddenModules = []) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenModules.map((name) => ({
            name,
            message: 'crosses a layer of DESIGN.md',
          })),
          patterns: forbiddenFolders.map((folder) => ({
            group: [`**/${folder}/*`, `../${folder}/*`, `./${folder}/*`],
            message: `this layer may not import from src/${folder}/ (see DESIGN.md, Layers)`,
          })),
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/node_modules/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        Response: 'readonly',
        Headers: 'readonly',
        RequestInit: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        fetch: 'readonly',
        document: 'readonly',
        window: 'readonly',
        EventSource: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  layer(
    ['src/session/**'],
    ['store', 'cluster', 'http', 'proxy', 'cli', 'dashboard'],
    [...nodeNet, ...frameworks],
  ),
  layer(
    ['src/store/**'],
    ['cluster', 'http', 'proxy', 'cli', 'dashboard'],
    [...nodeNet, 'express', 'fastify'],
  ),
  layer(
    ['src/cluster/**'],
    ['http', 'proxy', 'cli', 'dashboard'],
    ['express', 'fastify', 'express-session'],
  ),
  layer(['src/http/**'], ['proxy', 'cli', 'dashboard']),
  layer(['src/proxy/**'], ['cli', 'dashboard']),
);
