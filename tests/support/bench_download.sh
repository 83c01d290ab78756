#!/usr/bin/env bash
# `make bench-download` (after `make release`, which builds the static
# binary it measures): a 512 MiB blob from the fake CDN on loopback, saved
# by `civitai-orch blob --download` (streamed into a .part, synced, renamed)
# beside `curl -o` alone and `curl -o` followed by `sync FILE` (an fsync of
# the file, the same promise as our sync before the rename).
#
#   tests/support/bench_download.sh [BIN [FAKE]]   (RUNS=7 by default)
#
# The three commands are timed by hyperfine in RUNS interleaved rounds (one
# run of each per round), so that load from elsewhere on the shared VM falls
# on all three alike: compare ratios within one run of this script, not
# figures across runs. Wall and CPU (user+sys, of the measured process) are
# medians over the rounds; peak RSS is the largest of 3 `/usr/bin/time` runs.
# Before each run the output folder is emptied and `sync`ed, so that no
# write-back of the previous run is still going on.
# Budgets (issue 10): wall at most 1.15x `curl -o`, peak RSS under 16 MiB.
# Exits 1 when one is missed. Not a test: the figures are noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=$(realpath "${1:-target/dist/civitai-orch}")
FAKE=$(realpath "${2:-target/release/examples/fake-orchestrator}")
runs=${RUNS:-7}
MIB=512
size=$((MIB * 1024 * 1024))
id="synthetic-${size}.bin"
WALL_BUDGET=1.15 # times curl -o
RSS_BUDGET=16    # MiB
say() { printf 'bench-download: %s\n' "$*" >&2; }

for tool in hyperfine /usr/bin/time curl; do
  command -v "$tool" >/dev/null ||
    { say "error: needs $tool (apt-get install -y hyperfine time curl)"; exit 2; }
done
WORK=$(mktemp -d)
. tests/support/fake.sh
trap 'stop_fakes; rm -rf "$WORK"' EXIT
start_fake cdn
export CIVITAI_API_URL=$URL
export CIVITAI_API_TOKEN=test-token-0123456789abcdef
OUT=$WORK/out
mkdir -p "$OUT"

OURS="$bin -q blob $id --download --dir $OUT --force"
CURL="curl -s -o $OUT/curl.bin $CDN/signed/$id"
CURL_SYNC="sh -c 'curl -s -o $OUT/curl.bin $CDN/signed/$id && sync $OUT/curl.bin'"
FRESH="sh -c 'rm -f $OUT/*; sync'"

say "checking one download"
eval "$FRESH"
$OURS >/dev/null
[ "$(stat -c %s "$OUT/$id")" = "$size" ] || { say "error: incomplete download"; exit 1; }
cmp -s "$OUT/$id" <(curl -s "$CDN/signed/$id") || { say "error: the bytes differ from curl's"; exit 1; }
[ -z "$(find "$OUT" -name '*.part')" ] || { say "error: a .part was left"; exit 1; }

say "$runs rounds of the three commands (hyperfine, one run each per round)"
: >"$WORK/rounds"
for _ in $(seq "$runs"); do
  hyperfine -N --style none -r 1 --prepare "$FRESH" --export-csv "$WORK/hf.csv" \
    -n ours "$OURS" -n curl "$CURL" -n curlsync "$CURL_SYNC" >/dev/null 2>&1
  # command, mean, stddev, median, user, system, ...: one run, so its own.
  awk -F, 'NR > 1 { print $1, $4, $5 + $6 }' "$WORK/hf.csv" >>"$WORK/rounds"
done
# median NAME FIELD: the median over the rounds (2: wall, 3: CPU), in seconds.
median() {
  awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$WORK/rounds" | sort -g |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ours=$(median ours 2) cpu=$(median ours 3) curl=$(median curl 2) curlsync=$(median curlsync 2)

say "/usr/bin/time: 3 runs of ours (peak RSS)"
: >"$WORK/time"
for _ in 1 2 3; do
  eval "$FRESH"
  /usr/bin/time -f %M -a -o "$WORK/time" $OURS >/dev/null
done
rss=$(awk '$1 > m { m = $1 } END { print m / 1024 }' "$WORK/time")

# Memory must not grow with the file: the peak RSS at a small size too.
eval "$FRESH"
/usr/bin/time -f %M -o "$WORK/small" "$bin" -q blob synthetic-1048576.bin --download --dir "$OUT" --force >/dev/null
small=$(awk '{ print $1 / 1024 }' "$WORK/small")

over=0
# verdict OK TEXT: "TEXT: ok", or "TEXT: MISSED" and the exit status 1.
verdict() {
  if [ "$1" = 1 ]; then echo "$2: ok"; else over=1; echo "$2: MISSED"; fi
}
ratio=$(awk -v a="$ours" -v b="$curl" 'BEGIN { printf "%.2f", a / b }')
wall_ok=$(awk -v r="$ratio" -v m="$WALL_BUDGET" 'BEGIN { print (r <= m) }')
rss_ok=$(awk -v k="$rss" -v m="$RSS_BUDGET" 'BEGIN { print (k < m) }')
row() { # LABEL WALL CPU RSS BUDGET
  awk -v l="$1" -v w="$2" -v c="$3" -v r="$4" -v b="$5" -v curl="$curl" -v mib="$MIB" 'BEGIN {
    printf "| %s | %.2f s | %.0f MiB/s | %s | %s | %.2fx | %s |\n", l, w, mib / w, c, r, w / curl, b }'
}

cat <<EOF

date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r); load average $(cut -d" " -f1-3 /proc/loadavg)
$MIB MiB from the fake CDN on 127.0.0.1 into $(df -T "$OUT" | awk 'NR == 2 { print $2 }') ($(df "$OUT" | awk 'NR == 2 { print $1 }')); medians of $runs interleaved rounds

| command | wall, median | throughput | CPU (user+sys), median | peak RSS | / curl -o | budget |
|---|---|---|---|---|---|---|
EOF
row "civitai-orch blob --download (synced, renamed)" "$ours" "$(printf '%.2f s' "$cpu")" \
  "$(printf '%.1f MiB (1 MiB file: %.1f)' "$rss" "$small")" \
  "$(verdict "$wall_ok" "wall <= ${WALL_BUDGET}x curl -o"); $(verdict "$rss_ok" "RSS < $RSS_BUDGET MiB")"
row "curl -o (no sync)" "$curl" - - ""
row "curl -o, then sync FILE (fsync)" "$curlsync" - - ""
echo
if [ "$over" = 1 ]; then
  say "over budget"
  exit 1
fi
