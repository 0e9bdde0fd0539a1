/**
 * Request bodies of the seeds' routes. Bodies are built once as templates; each request gets a
 * copy with fresh ids written into fixed-width slots, so no request is a duplicate (the ingress
 * answers duplicates without writing them) and the generator spends its time sending, not
 * serialising.
 */
import { gzipSync } from 'node:zlib';
import type { Payload } from './LoadGenerator.js';

const SLOT = '@@@@@@@@@@'; // 10 characters, replaced by a base-36 request number
let requestCounter = 0;

class Template {
  private readonly template: Buffer;
  private readonly offsets: number[] = [];

  constructor(
    text: string,
    readonly events: number,
  ) {
    this.template = Buffer.from(text);
    for (let at = this.template.indexOf(SLOT); at >= 0; at = this.template.indexOf(SLOT, at + SLOT.length)) this.offsets.push(at);
  }

  next(): Payload {
    const body = Buffer.from(this.template);
    const id = (requestCounter++).toString(36).padStart(SLOT.length, '0');
    for (const at of this.offsets) body.write(id, at, 'latin1');
    return { body, events: this.events };
  }
}

const channels = ['web', 'mobile', 'api', 'email', 'push'];

/** Seed 004 POST /events: one product event, a different user each time (per-user rate limits). */
export function productEvent(eventName = 'product_view'): () => Payload {
  let n = 0;
  return () => {
    n++;
    const body = Buffer.from(
      `{"event_name":"${eventName}","channel":"${channels[n % 5]}","campaign_id":"summer_sale_2024","user_id":"user_${n % 100_000}",` +
        `"timestamp":${Date.now()},"tags":["electronics","featured"],"metadata":{"product_id":"SKU-${n % 1000}","page_url":"/products/laptop"}}`,
    );
    return { body, events: 1 };
  };
}

/** Seed 004 POST /events/bulk: `size` product events without ids (the ingress assigns them). */
export function productBulk(size: number, eventName: string): () => Payload {
  const now = Date.now();
  const events = Array.from({ length: size }, (_, i) => ({
    event_name: eventName,
    channel: channels[i % 5],
    campaign_id: 'summer_sale_2024',
    user_id: `user_${(i * 7919) % 50_000}`,
    timestamp: now,
    tags: ['electronics'],
    metadata: { product_id: `SKU-${i % 1000}` },
  }));
  const body = Buffer.from(JSON.stringify(events));
  return () => ({ body, events: size });
}

/** Seed 000 POST /api/v1/events/batch: `size` attempt events, unique client_attempt_id each. */
export function seed000Batch(size: number): () => Payload {
  const events = Array.from({ length: size }, (_, i) => ({
    user_id: `user_${SLOT}_${i}`,
    item_id: `item_${i % 500}`,
    session_id: `sess_${SLOT}`,
    client_attempt_id: `att_${SLOT}_${i}`,
    correct: i % 3 === 0,
    quality: i % 6,
    time_taken_ms: 1500 + i,
    hints_used: 0,
    device_type: 'web',
    app_version: '2.1.0',
  }));
  const template = new Template(JSON.stringify(events), size);
  return () => template.next();
}

/** Learner ids carry the request number too: per-user rate limits, and partitions spread. */
function collectorEvents(size: number, withIds: boolean): unknown[] {
  const timestamp = new Date().toISOString();
  return Array.from({ length: size }, (_, i) => ({
    ...(withIds ? { event_id: `evt_${SLOT}_${i}` } : {}),
    learner_id: `learner_${SLOT}_${i}`,
    tenant_id: 'tenant_alpha',
    event_type: 'interaction',
    timestamp,
    source_service: 'learning-app',
    event_data: { action: 'click', element: 'next_button' },
    metadata: {},
  }));
}

/** Seed 001 POST /api/v1/collect: `size` events with unique event ids. */
export function collectorBatch(size: number): () => Payload {
  const template = new Template(JSON.stringify({ batch_id: `batch_${SLOT}`, events: collectorEvents(size, true) }), size);
  return () => template.next();
}

/**
 * Seed 001 POST /api/v1/collect, gzipped once: the events carry no event_id (the ingress assigns
 * one), so one compressed body can be sent again and again without being a duplicate.
 */
export function gzippedCollectorBatch(size: number): { next: () => Payload; rawBytes: number; gzipBytes: number } {
  const raw = Buffer.from(JSON.stringify(collectorEvents(size, false)));
  const body = gzipSync(raw);
  return { next: () => ({ body, events: size }), rawBytes: raw.length, gzipBytes: body.length };
}
