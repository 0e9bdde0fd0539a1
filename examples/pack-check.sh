#!/usr/bin/env bash
# Issue 16 part 3's check: packs the package (npm pack, which builds on prepack), unpacks the
# tarball into a temporary project outside the source tree, and runs there
#   (a) word-count/word-count.mjs on the embedded log, against its exact expected output;
#   (b) the service with service-extension/campaign-funnel.mjs as PIPELINE_EXTENSIONS, whose
#       windowed node's rows are read back from ClickHouse, against exact expected rows;
#   (c) `npx streamline describe` through the package's bin, listing the extension's node and its
#       store's changelog topic.
# The temporary project gets the package's declared dependencies (and nothing else) as links to
# this checkout's node_modules (chdb and RocksDB are native and large: no registry download),
# never its sources.
# Needs package.json's "exports", "files" and the prepack build (see docs/EXTENDING.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/streamline-pack-XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
project="$work/project"
mkdir -p "$project/node_modules"
tar -xzf "$work"/streamline-events-*.tgz -C "$work"
# Only the packed manifest's "dependencies" are linked, so a runtime import of a devDependency
# (or of a package the manifest forgot) fails here as it would after `npm install`.
for dep in $(node -p 'Object.keys(require(process.argv[1]).dependencies ?? {}).join(" ")' "$work/package/package.json"); do
  mkdir -p "$project/node_modules/$(dirname "$dep")"
  ln -sfn "$root/node_modules/$dep" "$project/node_modules/$dep"
done
mv "$work/package" "$project/node_modules/streamline-events"
# The bin link and executable bit npm install gives a package's bin, so `npx streamline` runs it.
mkdir -p "$project/node_modules/.bin"
chmod +x "$project/node_modules/streamline-events/dist/bin/streamline.js"
ln -sfn ../streamline-events/dist/bin/streamline.js "$project/node_modules/.bin/streamline"
echo '{ "type": "module" }' > "$project/package.json"
cp "$root"/examples/word-count/*.mjs "$root"/examples/service-extension/*.mjs "$project/"
cd "$project"
resolved=$(node --input-type=module -e "console.log(import.meta.resolve('streamline-events'))")
case "$resolved" in "file://$project/"*) ;; *) echo "FAIL: streamline-events resolves to $resolved"; exit 1 ;; esac
expect() { if [ "$2" != "$3" ]; then echo "FAIL $1: got $2, expected $3"; exit 1; fi; echo "ok $1"; }
expect word-count "$(node word-count.mjs "$work/wc")" '{"brown":1,"dog":2,"fox":1,"jumps":1,"lazy":1,"over":1,"quick":1,"sleeps":1,"the":3}'
expect extension "$(node run-funnel.mjs | tail -1)" '[{"campaign_id":"camp-a","impressions":2,"clicks":1,"signups":1},{"campaign_id":"camp-b","impressions":1,"clicks":0,"signups":0}]'
described=$(PIPELINE_EXTENSIONS=campaign-funnel.mjs npx --no-install streamline describe)
case "$described" in *"Processor: funnel-select"*"Store: campaign-funnel (changelog: streamline-campaign-funnel-changelog)"*) echo "ok describe" ;; *) echo "FAIL describe"; exit 1 ;; esac
