#!/usr/bin/env bash
# `make bench-download`: a 512 MiB blob from the fake CDN on loopback, saved
# by `civitai-orch blob --download` and, as the reference, by `curl -o`.
# Reports wall time, throughput and peak RSS (from /usr/bin/time -v) of
# each, median of RUNS runs. Not a test: the machine is shared and noisy.
set -euo pipefail
bin=${1:-target/release/civitai-orch}
fake=${2:-target/release/examples/fake-orchestrator}
runs=${RUNS:-5}
size=$((512 * 1024 * 1024))
id="synthetic-${size}.bin"
for tool in /usr/bin/time curl; do
  command -v "$tool" >/dev/null || { echo "bench-download needs $tool (apt-get install -y time curl)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
"$fake" --url-file "$work/url" > "$work/fake.log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
export CIVITAI_API_URL=$(cat "$work/url")
export CIVITAI_API_TOKEN=test-token-0123456789abcdef
cdn=$(sed -n 's/.* CDN \([^ ]*\) .*/\1/p' "$work/fake.log")

# One measured run: prints "seconds kib".
measure() {
  /usr/bin/time -v "$@" 2> "$work/time.txt" > /dev/null
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
  echo "$wall $rss"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: > "$work/ours"; : > "$work/curl"
for _ in $(seq "$runs"); do
  rm -f "$work/out/"*
  measure "$bin" -q blob "$id" --download --dir "$work/out" --force >> "$work/ours"
  [ "$(stat -c %s "$work/out/$id")" = "$size" ] || { echo "incomplete download" >&2; exit 1; }
  rm -f "$work/out/"*
  measure curl -s -o "$work/out/curl.bin" "$cdn/signed/$id" >> "$work/curl"
done
ours_t=$(cut -d' ' -f1 "$work/ours" | median); ours_m=$(cut -d' ' -f2 "$work/ours" | median)
curl_t=$(cut -d' ' -f1 "$work/curl" | median); curl_m=$(cut -d' ' -f2 "$work/curl" | median)
awk -v ot="$ours_t" -v om="$ours_m" -v ct="$curl_t" -v cm="$curl_m" -v n="$runs" -v mib=512 'BEGIN {
  printf "512 MiB from the fake CDN on loopback, median of %d runs\n", n
  printf "%-34s %9s %11s %14s\n", "", "wall (s)", "MiB/s", "peak RSS (MiB)"
  printf "%-34s %9.2f %11.0f %14.1f\n", "civitai-orch blob --download", ot, mib / ot, om / 1024
  printf "%-34s %9.2f %11.0f %14.1f\n", "curl -o (reference)", ct, mib / ct, cm / 1024
  printf "time ratio civitai-orch / curl: %.2f\n", ot / ct
}'
