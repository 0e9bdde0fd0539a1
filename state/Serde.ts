/** Turns values into the bytes the log and the stores hold, and back. */
export interface Serde<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
}

export const stringSerde: Serde<string> = {
  serialize: (value) => Buffer.from(value, 'utf8'),
  deserialize: (bytes) => bytes.toString('utf8'),
};

export function jsonSerde<T>(): Serde<T> {
  return {
    serialize: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    deserialize: (bytes) => JSON.parse(bytes.toString('utf8')) as T,
  };
}

export const bufferSerde: Serde<Buffer> = {
  serialize: (value) => value,
  deserialize: (bytes) => bytes,
};
