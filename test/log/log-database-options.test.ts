import { LogDatabase } from '../../log/embedded/LogDatabase.js';
import { rocksdbColumnOptions, structField } from '../support/rocksdb-options.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

test('the embedded log compresses its deeper levels without a trained dictionary (dictionary training cost the background threads ~4 µs per event)', async () => {
  const dir = dirs.make();
  const db = await LogDatabase.open(dir);
  try {
    const options = rocksdbColumnOptions(dir).get('default')!;
    expect(options.get('compression_per_level')).toBe('kNoCompression:kNoCompression:kZSTD:kZSTD:kZSTD:kZSTD:kZSTD');
    expect(structField(options.get('compression_opts')!, 'max_dict_bytes')).toBe('0');
    expect(structField(options.get('compression_opts')!, 'zstd_max_train_bytes')).toBe('0');
    expect(options.get('compaction_style')).toBe('kCompactionStyleLevel');
  } finally {
    await db.close();
  }
});
