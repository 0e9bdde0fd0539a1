import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '../../bin/commands/cli-support.js';
import { ConfigError } from '../../config/index.js';
import { NamedError } from '../../errors/NamedError.js';
import { SpoolDiskFullError } from '../../ingress/DiskSpool.js';
import { HttpError } from '../../ingress/HttpError.js';
import { ProduceTimeoutError } from '../../ingress/TimedProducer.js';
import { ListenerError } from '../../log/kafka/GroupMembership.js';
import { UnknownTopicError } from '../../log/Log.js';
import { LogServerGoneError } from '../../log/remote/RemoteErrors.js';
import { AggregationQueryError } from '../../processors/WindowedAggregations.js';
import { FilterRuleError } from '../../processors/FilterRules.js';
import { BufferFullError } from '../../topology/dsl/SuppressProcessor.js';
import { InvalidStateStoreError } from '../../topology/runtime/InvalidStateStoreError.js';

describe('NamedError: the base of our error classes', () => {
  test('each subclass is named after itself, with or without a constructor of its own', () => {
    const errors = [
      new ConfigError('PORT="x" is not an integer'),
      new FilterRuleError('bad rule'),
      new BufferFullError('suppression buffer full'),
      new CliError('usage', 2),
      new HttpError(400, 'bad body', 'validation'),
      new UnknownTopicError('events.raw'),
      new InvalidStateStoreError('counts', 'REBALANCING'),
      new ProduceTimeoutError(500, Promise.resolve(false)),
      new ListenerError(new Error('onAssigned threw')),
      new LogServerGoneError('poll', 'terminated'),
      new AggregationQueryError('from (2) is after to (1)'),
      new SpoolDiskFullError(1024, 'ENOSPC'),
    ];
    expect(errors.map((error) => error.name)).toEqual([
      'ConfigError', 'FilterRuleError', 'BufferFullError', 'CliError', 'HttpError', 'UnknownTopicError', 'InvalidStateStoreError',
      'ProduceTimeoutError', 'ListenerError', 'LogServerGoneError', 'AggregationQueryError', 'SpoolDiskFullError',
    ]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(NamedError);
      expect(String(error)).toBe(`${error.name}: ${error.message}`);
    }
  });

  test('fields and messages set by subclass constructors are kept', () => {
    const error = new CliError('no such command', 2);
    expect(error.exitCode).toBe(2);
    expect(new UnknownTopicError('events.raw').message).toBe('unknown topic "events.raw"');
    expect(new NamedError('why', { cause: 'root' }).cause).toBe('root');
  });

  test('no error class in the rooms extends Error directly or names itself by hand', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    // Every room but errors/, whose NamedError is the base that extends Error.
    const rooms = ['config', 'log', 'state', 'topology', 'ingress', 'sink', 'processors', 'query', 'console', 'app', 'bin'];
    const found: string[] = [];
    for (const room of rooms) {
      for (const file of fs.readdirSync(path.join(root, room), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        const source = fs.readFileSync(path.join(root, room, file), 'utf8');
        for (const match of source.matchAll(/class (\w+) extends Error\b/g)) found.push(`${match[1]} extends Error`);
        for (const match of source.matchAll(/^\s+this\.name = (['"`][^;\n]+);/gm)) found.push(`${room}/${file.split(path.sep).join('/')}: this.name = ${match[1]}`);
      }
    }
    // The one exception stands for an error thrown in another thread and keeps that error's name.
    expect(found).toEqual(['ListenerFailedError extends Error']);
  });
});
