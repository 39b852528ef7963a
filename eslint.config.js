import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'completions/', 'src/api/generated/'] },
  // The launcher has no extension; lint it as an ES module too.
  { files: ['bin/meshctl'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Commands return data and src/ui renders it; nothing in src/ prints on its own.
      'no-console': 'error',
    },
  },
  {
    // Scripts, benchmarks and the launcher print on purpose.
    files: ['scripts/**', 'bench/**', 'bin/meshctl', 'test/**'],
    rules: { 'no-console': 'off' },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
);
