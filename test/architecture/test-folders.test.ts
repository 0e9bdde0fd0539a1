import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The rooms as eslint enforces them (eslint.config.js, loaded by URL: plain JavaScript).
const rooms = Object.keys(((await import(pathToFileURL(path.join(ROOT, 'eslint.config.js')).href)) as { ROOMS: Record<string, string[]> }).ROOMS);

/** test/ folders that are not one room's, and why each spans several or none. */
const ACROSS_ROOMS: Record<string, string> = {
  architecture: 'the layout of the code itself: rooms, file names, this check',
  support: 'helpers shared by the suites (temp dirs, brokers, child processes)',
  conformance: 'the DSL and runtime against Kafka Streams (conformance/, a Maven module)',
  'kafka-e2e': 'the whole service against a real Kafka broker, through its faults',
  landing: 'the landing contract end to end: ingress, log and the processors that decode it',
  extensions: 'pipeline extensions: examples/extensions through the loader, the CLI and npm pack',
};

describe('test/ mirrors the rooms (CONTRIBUTING.md "Tests")', () => {
  const folders = fs
    .readdirSync(path.join(ROOT, 'test'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);

  test('every room has its test folder, named as the room', () => {
    expect(rooms.filter((room) => !folders.includes(room))).toEqual([]);
  });

  test('every other test folder is one that spans the rooms, for a stated reason', () => {
    expect(folders.filter((folder) => !rooms.includes(folder)).sort()).toEqual(Object.keys(ACROSS_ROOMS).sort());
  });
});
