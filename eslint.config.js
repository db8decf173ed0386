// Lint rules: typescript-eslint's recommended type-aware set, plus import-x guarding the layer
// rule (no import cycles between modules).
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      '.build/**',
      'node_modules/**',
      'bench/results/**',
      '.scratch/**',
      '.build-*/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { maxDepth: 10 }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Lower layers never import higher ones (see ARCHITECTURE.md).
    files: ['src/util/**', 'src/error/**', 'src/http/**', 'src/route/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '**/context/*',
            '**/lifecycle/*',
            '**/server/*',
            '**/middleware/*',
            '**/ws/*',
            '**/sse/*',
            '**/broadcast/*',
            '**/index.js',
          ],
        },
      ],
    },
  },
  {
    // Batteries are built on the public Context API only (see ARCHITECTURE.md).
    files: ['src/middleware/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '**/server/*',
            '**/lifecycle/*',
            '**/ws/*',
            '**/broadcast/*',
            '**/route/*',
            '**/index.js',
          ],
        },
      ],
    },
  },
  {
    files: ['src/context/**', 'src/lifecycle/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/server/*', '**/middleware/*', '**/index.js'] },
      ],
    },
  },
);
