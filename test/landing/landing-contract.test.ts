import { ConfigError } from '../../config/index.js';
import { readConfluentFrame, writeConfluentFrame } from '../../processors/ConfluentWireFormat.js';
import { LandingDecoder, withoutLandingHeaders } from '../../processors/LandingContract.js';
import { readLandingContract } from '../../processors/PipelineConfig.js';
import { positionEventId, UnparseableEventError } from '../../processors/LandingEvent.js';
import { fromJsonObject, protoSchemas } from '../../processors/ProtobufEvents.js';

const T = Date.UTC(2024, 0, 15, 10, 0, 0);
const at = (offset: number) => ({ topic: 'events.raw', partition: 2, offset });
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const product = { event_name: 'lesson_started', user_id: 'u1', timestamp: T - 1000, channel: 'web' };
const collector = { learner_id: 'l1', tenant_id: 't', event_type: 'interaction', timestamp: '2024-01-15T09:59:00Z', source_service: 'web', event_data: { action: 'click' } };

function refusal(decode: () => unknown): string {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(UnparseableEventError);
    return (error as Error).message;
  }
  throw new Error('the record was accepted');
}

describe('the landing contract', () => {
  const decoder = new LandingDecoder({ validateEnvelopes: false, protobufSchemaId: 7 });

  test('a bare event without a client id gets an id from its position: the same position always the same id', () => {
    const first = decoder.decode({ key: 'u1', value: json(product), timestamp: T }, at(41));
    const replay = decoder.decode({ key: 'u1', value: json(product), timestamp: T }, at(41));
    const next = decoder.decode({ key: 'u1', value: json(product), timestamp: T }, at(42));
    expect(first.event_id).toBe(replay.event_id);
    expect(first.event_id).toBe(positionEventId(at(41)));
    expect(first.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(next.event_id).not.toBe(first.event_id);
    // Unique by construction: dedupe lets it pass without a store entry.
    expect(first).toMatchObject({ id_assigned: true, kind: 'product', user_id: 'u1', received_at: T, event_time: T - 1000 });
  });

  test('a client id in the payload or the idempotency-key header is the event id (deduped like an HTTP event)', () => {
    expect(decoder.decode({ key: 'u1', value: json({ ...product, event_id: 'p-1' }), timestamp: T }, at(1))).toMatchObject({ event_id: 'p-1', id_assigned: false });
    expect(decoder.decode({ key: null, value: json(collector), timestamp: T, headers: { 'Idempotency-Key': 'c-9' } }, at(2))).toMatchObject({ event_id: 'c-9', id_assigned: false, user_id: 'l1', kind: 'collector' });
  });

  test('a bare event is checked with the HTTP route schema; the reason is the route text naming the field', () => {
    expect(refusal(() => decoder.decode({ key: 'u1', value: json({ event_name: 'x', user_id: 'u1' }), timestamp: T }, at(3)))).toBe('timestamp is required');
    expect(refusal(() => decoder.decode({ key: 'u1', value: json({ ...product, channel: 'fax' }), timestamp: T }, at(4)))).toBe('channel must be one of: web, mobile, api, email, push, ""');
    expect(refusal(() => decoder.decode({ key: 'l1', value: json({ ...collector, tenant_id: undefined, timestamp: 'yesterday' }), timestamp: T }, at(5)))).toBe(
      'tenant_id is required; timestamp must be a valid date-time',
    );
    // The event-type header names the type of a bare event its shape cannot tell.
    expect(refusal(() => decoder.decode({ key: 'u1', value: json({ user_id: 'u1', item_id: 'i1' }), timestamp: T, headers: { 'event-type': 'attempt' } }, at(6)))).toBe('client_attempt_id is required');
    expect(refusal(() => decoder.decode({ key: 'u1', value: json({ user_id: 'u1' }), timestamp: T, headers: { 'event-type': 'teleport' } }, at(7)))).toBe('unknown event_type "teleport"');
  });

  test('envelopes are checked against the JSON Schemas by default; LANDING_VALIDATE_ENVELOPES=false trusts them', () => {
    const envelope = json({ v: 1, event_id: 'e1', id_assigned: false, event_type: 'product', source: 'product', received_at: T, payload: { event_name: 'x', user_id: 'u1' } });
    expect(refusal(() => new LandingDecoder(readLandingContract({})).decode({ key: 'u1', value: envelope, timestamp: T }, at(8)))).toBe('timestamp is required');
    expect(refusal(() => new LandingDecoder().decode({ key: 'u1', value: envelope, timestamp: T }, at(8)))).toBe('timestamp is required');
    const trusting = new LandingDecoder(readLandingContract({ LANDING_VALIDATE_ENVELOPES: 'false' }));
    expect(trusting.decode({ key: 'u1', value: envelope, timestamp: T }, at(8))).toMatchObject({ event_id: 'e1' });
    expect(decoder.decode({ key: 'u1', value: envelope, timestamp: T }, at(8))).toMatchObject({ event_id: 'e1' });
  });

  describe('Protobuf', () => {
    const { landing, root } = protoSchemas();
    const productType = root.lookupType('streamline.v1.ProductEvent');
    const landingBytes = (event: Record<string, unknown>) => Buffer.from(landing.encode(landing.fromObject({ product: fromJsonObject(productType, event) })).finish());
    const productBytes = (event: Record<string, unknown>) => Buffer.from(productType.encode(fromJsonObject(productType, event)).finish());
    const withMetadata = { ...product, tags: ['a', 'b'], metadata: { plan: 'pro', seats: 3, trial: false, nested: { list: [1, 'x', null] } } };

    test('by content type: a LandingEvent, or the message the messageType parameter names; decodes to the JSON event', () => {
      const viaLanding = decoder.decode({ key: 'u1', value: landingBytes(withMetadata), timestamp: T, headers: { 'content-type': 'application/x-protobuf' } }, at(10));
      expect(viaLanding.payload).toEqual(withMetadata);
      const named = decoder.decode({ key: 'u1', value: productBytes(withMetadata), timestamp: T, headers: { 'content-type': 'application/x-protobuf; messageType=streamline.v1.ProductEvent' } }, at(11));
      expect(named.payload).toEqual(withMetadata);
      expect(named).toMatchObject({ kind: 'product', id_assigned: true, event_id: positionEventId(at(11)) });
    });

    test('in the Confluent wire format with the configured schema id; message indexes name the message', () => {
      const framed = writeConfluentFrame(7, [4], productBytes({ ...product, event_id: 'pb-1' }));
      expect(readConfluentFrame(framed)).toMatchObject({ schemaId: 7, messageIndexes: [4] });
      expect(decoder.decode({ key: 'u1', value: framed, timestamp: T }, at(12))).toMatchObject({ event_id: 'pb-1', kind: 'product' });
      const asLanding = writeConfluentFrame(7, [5], landingBytes(product));
      expect(decoder.decode({ key: 'u1', value: asLanding, timestamp: T }, at(13)).payload).toEqual(product);
      expect(refusal(() => decoder.decode({ key: 'u1', value: writeConfluentFrame(8, [4], productBytes(product)), timestamp: T }, at(14)))).toMatch(/schema id 8; the landing topic takes schema id 7/);
      const unset = new LandingDecoder({ validateEnvelopes: false });
      expect(refusal(() => unset.decode({ key: 'u1', value: framed, timestamp: T }, at(15)))).toMatch(/LANDING_PROTOBUF_SCHEMA_ID is not set/);
    });

    test('Protobuf events are checked by the same JSON Schemas; garbage is refused with a reason', () => {
      expect(refusal(() => decoder.decode({ key: 'u1', value: productBytes({ event_name: 'x', user_id: 'u1' }), timestamp: T, headers: { 'content-type': 'application/x-protobuf; messageType=ProductEvent' } }, at(16)))).toBe(
        'timestamp is required',
      );
      const garbage = Buffer.from([0xff, 0xfe, 0x01, 0x02, 0x03, 0x99]);
      expect(refusal(() => decoder.decode({ key: 'u1', value: garbage, timestamp: T, headers: { 'content-type': 'application/x-protobuf' } }, at(17)))).toMatch(/not a streamline\.v1\.LandingEvent Protobuf message|holds no event/);
      expect(refusal(() => decoder.decode({ key: 'u1', value: garbage, timestamp: T }, at(18)))).toMatch(/not JSON/);
      expect(refusal(() => decoder.decode({ key: 'u1', value: Buffer.from([0, 0, 0, 0, 9, 0, 1, 2]), timestamp: T }, at(19)))).toMatch(/schema id 9/);
    });
  });

  test('settings are checked at start; the contract headers do not travel to output records', () => {
    expect(() => readLandingContract({ LANDING_PROTOBUF_SCHEMA_ID: 'abc' })).toThrow(ConfigError);
    expect(() => readLandingContract({ LANDING_PROTOBUF_SCHEMA_ID: 'abc' })).toThrow(/LANDING_PROTOBUF_SCHEMA_ID/);
    expect(readLandingContract({ LANDING_PROTOBUF_SCHEMA_ID: '42' }).protobufSchemaId).toBe(42);
    expect(withoutLandingHeaders({ 'content-type': 'application/x-protobuf', 'Event-Type': 'product', trace: '1' })).toEqual({ trace: '1' });
  });
});
