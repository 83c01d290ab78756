#!/usr/bin/env bash
# `make bench-download` (after `make release`, which builds the static
# binary it measures): a 512 MiB blob from the fake CDN on loopback, saved
# by `civitai-orch blob --download` and, as the reference, by `curl -o`.
# Reports wall time, throughput and peak RSS (from /usr/bin/time -v) of
# each, median of RUNS runs. Not a test: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/dist/civitai-orch}
fake=${2:-target/release/examples/fake-orchestrator}
runs=${RUNS:-5}
size=$((512 * 1024 * 1024))
id="synthetic-${size}.bin"
for tool in /usr/bin/time curl; do
  command -v "$tool" >/dev/null || { echo "bench-download needs $tool (apt-get install -y time curl)" >&2; exit 1; }
done
FAKE=$fake
WORK=$(mktemp -d)
. "$(dirname "$0")/fake.sh"
trap 'stop_fakes; rm -rf "$WORK"' EXIT
start_fake cdn
export CIVITAI_API_URL=$URL
export CIVITAI_API_TOKEN=test-token-0123456789abcdef
cdn=$CDN

# One measured run: prints "seconds kib".
measure() {
  /usr/bin/time -v "$@" 2> "$WORK/time.txt" > /dev/null
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time.txt" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt")
  echo "$wall $rss"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: > "$WORK/ours"; : > "$WORK/curl"; : > "$WORK/curlsync"
for _ in $(seq "$runs"); do
  rm -f "$WORK/out/"*
  measure "$bin" -q blob "$id" --download --dir "$WORK/out" --force >> "$WORK/ours"
  [ "$(stat -c %s "$WORK/out/$id")" = "$size" ] || { echo "incomplete download" >&2; exit 1; }
  rm -f "$WORK/out/"*
  measure curl -s -o "$WORK/out/curl.bin" "$cdn/signed/$id" >> "$WORK/curl"
  rm -f "$WORK/out/"*
  # The same durability as civitai-orch, which syncs the file before it
  # gives it its name: curl, then an fdatasync of what it wrote.
  measure sh -c 'curl -s -o "$1" "$2" && sync -d "$1"' sh "$WORK/out/curl.bin" "$cdn/signed/$id" >> "$WORK/curlsync"
done
col() { cut -d' ' -f"$1" "$WORK/$2" | median; }
awk -v ot="$(col 1 ours)" -v om="$(col 2 ours)" -v ct="$(col 1 curl)" -v cm="$(col 2 curl)" \
    -v st="$(col 1 curlsync)" -v sm="$(col 2 curlsync)" -v n="$runs" -v mib=512 'BEGIN {
  printf "512 MiB from the fake CDN on loopback, median of %d runs\n", n
  printf "%-36s %9s %8s %15s\n", "", "wall (s)", "MiB/s", "peak RSS (MiB)"
  printf "%-36s %9.2f %8.0f %15.1f\n", "civitai-orch blob --download", ot, mib / ot, om / 1024
  printf "%-36s %9.2f %8.0f %15.1f\n", "curl -o, then sync -d (reference)", st, mib / st, sm / 1024
  printf "%-36s %9.2f %8.0f %15.1f\n", "curl -o (no sync)", ct, mib / ct, cm / 1024
  printf "time ratio civitai-orch / (curl + sync): %.2f\n", ot / st
  printf "time ratio civitai-orch / curl alone:    %.2f\n", ot / ct
}'

# Memory must not grow with the file: the peak RSS at three sizes.
printf 'peak RSS by file size:'
for n in 1048576 67108864 "$size"; do
  rm -f "$WORK/out/"*
  kib=$(measure "$bin" -q blob "synthetic-$n.bin" --download --dir "$WORK/out" --force | cut -d' ' -f2)
  printf ' %d MiB: %.1f MiB;' $((n / 1048576)) "$(echo "$kib" | awk '{ print $1 / 1024 }')"
done
echo
