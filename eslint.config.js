// eslint.config.js: lint rules for salt-autoscaler (typescript-eslint recommended, no any; type-aware promise and
// switch rules on every TypeScript file of src/, test/ and bench/, typed through tsconfig.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.tap/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // a promise nobody awaits loses its rejection: await it, return it, or `void` it with a comment saying why.
      // Known safe: tap's subtests (`t.test(...)` returns a PromiseWithSubtest): the parent test runs and awaits them
      // itself and reports their failures, which is how every tap file is written.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafePromises: [{ from: 'package', package: '@tapjs/core', name: 'PromiseWithSubtest' }],
      }],
      // an async function where a void callback is expected (an event handler, a timer) drops its rejection
      '@typescript-eslint/no-misused-promises': 'error',
      // a switch over a union names every member (STYLE: exhaustive switches)
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
