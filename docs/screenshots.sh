#!/usr/bin/env bash
# Regenerates docs/screenshot-desktop.png and docs/screenshot-phone.png: the offline example's front
# page (examples/offline.toml), polled once and served on a spare loopback port, shot by headless
# chromium (installed by .ci/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18931
sed -e "s|database = \"offline.db\"|database = \"$work/offline.db\"|" \
    -e "s|127.0.0.1:8080|127.0.0.1:$port|g" \
    -e "s|file:feeds/|file:$PWD/examples/feeds/|g" examples/offline.toml > "$work/offline.toml"
cargo build --release -q
./target/release/syndic --config "$work/offline.toml" poll >/dev/null
# An editor's pin, so the front page shows its "Must-reads" box: the newest story with most sources.
story=$(./target/release/syndic --config "$work/offline.toml" stories --sort top --hours 168 --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
./target/release/syndic --config "$work/offline.toml" pin "$story" --note "The editors' pick" >/dev/null
./target/release/syndic --config "$work/offline.toml" run 2>"$work/log" &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
if ! kill -0 "$pid" 2>/dev/null || [ "$(curl -fs "http://127.0.0.1:$port/healthz")" != ok ]; then
  echo "screenshots.sh: syndic is not serving on port $port (is the port taken?):" >&2
  cat "$work/log" >&2
  exit 1
fi
shot() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size="$1" --screenshot="$2" "http://127.0.0.1:$port/" 2>/dev/null
}
shot 1280,900 docs/screenshot-desktop.png
shot 390,844 docs/screenshot-phone.png
ls -l docs/screenshot-*.png
