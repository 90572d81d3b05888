#!/usr/bin/env bash
# Runs the fuzz targets (nightly Rust and cargo-fuzz: `cargo install cargo-fuzz`).
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 600 seconds each, targets feed and config
# Seeds: the shared feed corpus (../shared/data/feeds, when present) for `feed`, the repo's example
# configs for `config`. New inputs go to fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(feed config)
mkdir -p fuzz/corpus/feed fuzz/corpus/config fuzz/seeds/config
cp feeds.toml examples/offline.toml fuzz/seeds/config/
for t in "${targets[@]}"; do
  seeds=()
  case $t in
    feed)
      for d in ../shared/data/feeds/feedparser/wellformed ../shared/data/feeds/feedparser/illformed \
               ../shared/data/feeds/w3c; do
        [ -d "$d" ] && seeds+=("$d")
      done ;;
    config) seeds+=(fuzz/seeds/config) ;;
  esac
  echo "fuzz/run.sh: $t for ${secs}s"
  cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
