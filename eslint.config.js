import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The rooms of the source tree and the rooms each may import (docs/ARCHITECTURE.md "Rooms"),
 * derived from the imports the code had when the rule came in. A room not listed on the right
 * is refused by no-restricted-imports (static imports and re-exports) and no-restricted-syntax
 * (import()), so a wrong import fails `npm run lint`. app/ composes the service, bin/ is the CLI.
 */
export const ROOMS = {
  errors: [],
  config: ['errors'],
  log: ['errors', 'config'],
  state: ['errors', 'config', 'log'],
  topology: ['errors', 'config', 'log', 'state'],
  ingress: ['errors', 'config', 'log'],
  sink: ['errors', 'config', 'log', 'topology'],
  processors: ['errors', 'config', 'log', 'state', 'topology', 'ingress', 'sink'],
  query: ['errors', 'config', 'sink'],
  console: ['errors', 'config', 'ingress'],
  app: ['errors', 'config', 'log', 'state', 'topology', 'ingress', 'sink', 'processors', 'query', 'console'],
  bin: ['errors', 'config', 'log', 'state', 'topology', 'ingress', 'sink', 'processors', 'query', 'console', 'app'],
};

/** A relative import that climbs out of the file's room into one of `rooms`. */
function intoRooms(rooms) {
  return `^(\\.\\./)+(${rooms.join('|')})/`;
}

function roomRules(room, allowed) {
  const refused = Object.keys(ROOMS).filter((other) => other !== room && !allowed.includes(other));
  if (refused.length === 0) return [];
  const imports = allowed.length ? `may import only ${allowed.map((name) => `${name}/`).join(', ')}` : 'imports nothing of ours';
  const message = `${room}/ ${imports} (docs/ARCHITECTURE.md "Rooms")`;
  return [{
    files: [`${room}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: intoRooms(refused), message }] }],
      // esquery's regex literals cannot hold a slash: \x2F stands for it.
      'no-restricted-syntax': ['error', { selector: `ImportExpression > Literal[value=/${intoRooms(refused).replaceAll('/', '\\x2F')}/]`, message }],
    },
  }];
}

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'node_modules/**', 'bench/peer/**', 'coverage/**', '.prof/**', '.kafka/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The examples are plain Node scripts (.mjs) run as a user of the package runs them.
    files: ['examples/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  ...Object.entries(ROOMS).flatMap(([room, allowed]) => roomRules(room, allowed)),
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
