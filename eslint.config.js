// Lint rules: the recommended TypeScript set, plus a ban on console output in
// library code (logs go through pino) and on focused or ambient-random code in
// the Raft core.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', '.build/**', 'node_modules/**', 'charts/**', 'manifests/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['contract/**/*.ts', 'node/**/*.ts', 'operator/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['node/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'net', 'timers', 'dgram', 'http', 'https'] }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'The Raft core takes randomness from an injected seeded source.' }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'Date', 'performance', 'process'],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
