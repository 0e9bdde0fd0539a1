import fs from 'node:fs';
import { Registry } from 'prom-client';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log, ProducerRecord } from '../../log/Log.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { StreamsApp, type StreamsBuilder } from '../../topology/index.js';
import { waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * The fields the HTTP route's JSON Schema requires and a test does not care about, derived from
 * the event: the ingress would have refused the event without them, and the topology checks
 * envelopes against the same schemas (LANDING_VALIDATE_ENVELOPES, default true).
 */
function requiredFields(event: { event_id: string; event_type: string; received_at: number }): Record<string, unknown> {
  switch (event.event_type) {
    case 'attempt':
      return { client_attempt_id: event.event_id };
    case 'session':
      return { session_id: event.event_id, start_time: new Date(event.received_at).toISOString() };
    case 'placement':
      return { placement_id: event.event_id };
    case 'product':
      return { timestamp: event.received_at };
    default: // seed 001's collector types
      return { tenant_id: 'tenant_test', event_type: event.event_type, timestamp: new Date(event.received_at).toISOString(), source_service: 'test-service' };
  }
}

/** A landing record as the ingress writes it: envelope value, user id key, received_at timestamp. */
export function landingRecord(
  topic: string,
  event: { event_id: string; event_type: string; received_at: number; payload: Record<string, unknown>; source?: string; user_agent?: string },
  key: string,
): ProducerRecord {
  const source = event.source ?? (['attempt', 'session', 'placement'].includes(event.event_type) ? 'seed000' : event.event_type === 'product' ? 'product' : 'collector');
  const payload = { ...requiredFields(event), ...event.payload };
  const envelope: Record<string, unknown> = { v: 1, event_id: event.event_id, id_assigned: false, event_type: event.event_type, source, received_at: event.received_at, payload };
  if (event.user_agent) envelope.user_agent = event.user_agent;
  return { topic, key: Buffer.from(key), value: Buffer.from(JSON.stringify(envelope)), timestamp: event.received_at };
}

export interface Harness {
  dir: string;
  log: Log;
  registry: Registry;
  app?: StreamsApp;
  /** Starts the topology and waits until it committed everything in the given input topics. */
  run(builder: StreamsBuilder, inputs: string[], options?: { applicationId?: string; dlqTopic?: string }): Promise<StreamsApp>;
  outcome(processor: string, outcome: string): Promise<number>;
  close(): Promise<void>;
}

/** A temp dir with an embedded log, and one StreamsApp at a time on it. */
export async function harness(prefix: string): Promise<Harness> {
  const dir = tempDir(prefix);
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const h: Harness = {
    dir,
    log,
    registry: new Registry(),
    async run(builder, inputs, options = {}) {
      const applicationId = options.applicationId ?? prefix;
      h.registry = new Registry();
      const app = new StreamsApp(builder.build(), log, { applicationId, stateDir: `${dir}/state`, dlqTopic: options.dlqTopic ?? 'dlq.events', registry: h.registry, commitIntervalMs: 20 });
      h.app = app;
      await app.start();
      await waitForCaughtUp(app, log, applicationId, inputs);
      return app;
    },
    async outcome(processor, outcome) {
      const values = (await h.registry.getSingleMetric('streamline_processor_events_total')!.get()).values;
      return values.filter((v) => v.labels.processor === processor && v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
    },
    async close() {
      await h.app?.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

let enrichedEvents = 0;

/** An enriched event as the aggregations receive it (unique ids per test run); jurisdiction sets the user's. */
export function enrichedEvent(kind: LearningEvent['kind'], user: string, t: number, payload: Record<string, unknown>, jurisdiction?: string): LearningEvent {
  return enrichedEventWithId(`e${enrichedEvents++}`, kind, user, t, payload, jurisdiction);
}

/** enrichedEvent() with the id given (a fixture that writes the same stream in every run). */
export function enrichedEventWithId(eventId: string, kind: LearningEvent['kind'], user: string, t: number, payload: Record<string, unknown>, jurisdiction?: string): LearningEvent {
  return {
    v: 1,
    event_id: eventId,
    id_assigned: false,
    event_type: kind === 'collector' ? 'interaction' : kind,
    kind,
    source: 'seed000',
    received_at: t,
    event_time: t,
    user_id: user,
    payload,
    enrichment: { user: jurisdiction ? { user_id: user, jurisdiction } : null, item: null, derived: { local_hour: 0, time_of_day: 'night', timezone: 'UTC' } },
  };
}
