#!/bin/sh
# `npm start`: sets what only a launcher can set (read by glibc and V8 when the process starts,
# too late from inside it), then becomes the node process that runs scripts/start.mjs (exec: same
# pid, no parent left waiting, ~1 ms). Why each (BENCHMARKS.md, "Idle RSS with threads (issue 21)"):
#
#   MALLOC_ARENA_MAX=2       glibc gives every thread that mallocs its own arena (up to 8 per core);
#                            the service has ~38 threads (RocksDB, chDB, libuv, four V8 isolates), and
#                            each arena keeps its freed pages.
#   --heap-growing-percent   (V8_HEAP_GROWING_PERCENT, default 200; 0 = V8's own factor) how far a
#                            V8 heap grows past what the last full GC left live before the next:
#                            V8's own factor for the threads' heap limits is ~1.3, and the stream
#                            thread ran a full GC every ~200 ms under load (BENCHMARKS.md, "V8's heap
#                            growing factor"). config/HeapGrowing.ts validates the same variable.
#   (no --max-semi-space-size: V8's young generation is sized per worker thread through its
#   resourceLimits, config/YoungGeneration.ts; a process flag would override those.)
#
# It is yours to change: an exported MALLOC_ARENA_MAX or V8_HEAP_GROWING_PERCENT is kept as given.
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_ARENA_MAX
growing="${V8_HEAP_GROWING_PERCENT:-200}"
growing=$(printf '%s' "$growing" | tr -d ' ')
case "$growing" in
  '') growing=200 ;;
  *[!0-9]*)
    echo "configuration error: V8_HEAP_GROWING_PERCENT=\"$V8_HEAP_GROWING_PERCENT\" is not an integer: correct it (docs/CONFIG.md lists every setting with its default)" >&2
    exit 1
    ;;
esac
if [ "$growing" -gt 1000 ]; then
  echo "configuration error: V8_HEAP_GROWING_PERCENT=$growing is out of range [0, 1000]: correct it (docs/CONFIG.md lists every setting with its default)" >&2
  exit 1
fi
exec node --heap-growing-percent="$growing" "$(dirname "$0")/start.mjs" "$@"
