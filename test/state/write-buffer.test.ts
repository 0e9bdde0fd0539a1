import { WriteBuffer } from '../../state/WriteBuffer.js';

const key = (text: string) => Buffer.from(text);
const value = (text: string | null) => (text === null ? null : Buffer.from(text));
const texts = (writes: { key: Buffer; value: Buffer | null }[]) => writes.map((w) => `${w.key.toString()}=${w.value?.toString() ?? 'null'}`);

describe('WriteBuffer generations', () => {
  test('a drain hands the logged writes to the changelog and keeps every write for the flush; later writes wait for the next commit', () => {
    const buffer = new WriteBuffer();
    buffer.write(key('a'), value('1'));
    buffer.writeUnlogged(key('i'), value('x'));
    buffer.write(key('b'), value(null));
    expect(texts(buffer.drain())).toEqual(['a=1', 'b=null']);
    expect(buffer.pendingCount).toBe(0);
    // Drained writes are still what reads see until they are on disk.
    expect(buffer.lookup(key('a'))?.value?.toString()).toBe('1');
    buffer.write(key('a'), value('2'));
    buffer.write(key('c'), value('3'));
    expect(buffer.lookup(key('a'))?.value?.toString()).toBe('2');
    expect(texts(buffer.takeDrained())).toEqual(['a=1', 'i=x', 'b=null']);
    expect(buffer.lookup(key('b'))).toBeUndefined();
    expect(buffer.pendingCount).toBe(2);
    expect(texts(buffer.drain())).toEqual(['a=2', 'c=3']);
    expect(texts(buffer.takeDrained())).toEqual(['a=2', 'c=3']);
    expect(buffer.size).toBe(0);
  });

  test('draining twice before a flush merges into one drained generation, the newer write winning', () => {
    const buffer = new WriteBuffer();
    buffer.write(key('a'), value('1'));
    buffer.write(key('b'), value('1'));
    buffer.drain();
    buffer.write(key('a'), value('2'));
    expect(texts(buffer.drain())).toEqual(['a=2']);
    expect(buffer.size).toBe(2);
    expect(texts(buffer.takeDrained())).toEqual(['b=1', 'a=2']);
  });
});
