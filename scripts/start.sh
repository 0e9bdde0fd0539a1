#!/bin/sh
# `npm start`: sets what only a launcher can set (read by glibc and V8 when the process starts,
# too late from inside it), then becomes the node process that runs scripts/start.mjs (exec: same
# pid, no parent left waiting, ~1 ms). Why each (BENCHMARKS.md, "Idle RSS with threads (issue 21)"):
#
#   MALLOC_ARENA_MAX=2       glibc gives every thread that mallocs its own arena (up to 8 per core);
#                            the service has ~38 threads (RocksDB, chDB, libuv, four V8 isolates), and
#                            each arena keeps its freed pages.
#   (no --max-semi-space-size: V8's young generation is sized per worker thread through its
#   resourceLimits, config/YoungGeneration.ts; a process flag would override those.)
#
# It is yours to change: an exported MALLOC_ARENA_MAX is kept as given.
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_ARENA_MAX
exec node "$(dirname "$0")/start.mjs" "$@"
