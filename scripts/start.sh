#!/bin/sh
# `npm start`: sets what only a launcher can set (read by glibc and V8 when the process starts,
# too late from inside it), then becomes the node process that runs scripts/start.mjs (exec: same
# pid, no parent left waiting, ~1 ms). Why each (BENCHMARKS.md, "Idle RSS with threads (issue 21)"):
#
#   MALLOC_ARENA_MAX=2       glibc gives every thread that mallocs its own arena (up to 8 per core);
#                            the service has ~38 threads (RocksDB, chDB, libuv, four V8 isolates), and
#                            each arena keeps its freed pages.
#   --max-semi-space-size=1  V8's young generation, per isolate (the HTTP thread, the log thread,
#                            the stream and sink threads): Node 20 lets it grow to 16 MB per
#                            semi-space, and module loading at start grows it in each. 1 MB: the
#                            lowest idle RSS measured (4 MB: ~5-8 MB more); CPU per event under load
#                            the same as with 4 MB, 5-15% more than with Node's default (two runs).
#
# Either is yours to change: an exported MALLOC_ARENA_MAX, or --max-semi-space-size in NODE_OPTIONS,
# is kept as given.
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_ARENA_MAX
case " ${NODE_OPTIONS:-} " in
  *--max-semi-space-size*) exec node "$(dirname "$0")/start.mjs" "$@" ;;
  *) exec node --max-semi-space-size=1 "$(dirname "$0")/start.mjs" "$@" ;;
esac
