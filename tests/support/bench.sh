#!/usr/bin/env bash
# `make bench`: builds the static release binary and measures it against the
# budget, beside a minimal Node.js `fetch` script doing the same work against
# the same fake orchestrator on loopback (what users of the old script pay).
#
# Wall times are hyperfine medians; CPU is hyperfine's mean user + system time
# of the measured process alone (the fake runs in its own process); peak RSS
# is the largest `/usr/bin/time` maximum resident set size over a few runs.
# Every command runs with an empty environment but for PATH, HOME, the API
# URL and the token, so no SSL_CERT_FILE, proxy or .env changes the figures.
#
# And beside the floor (tests/support/floor_main.rs, built here on the same
# crates and profile): the least a program does for the same work, one ureq
# agent reading the pages and writing each item as its `RawValue`, or one
# request printing each item's id and status. Every CPU figure of the binary
# is a ratio to the floor's of the same run: one request at most 1.2x, the
# --jsonl walk 1.5x, the text walk 2x, `stats` and `--fields=id,status` 2.5x,
# each walk under 10 MiB of peak RSS; with SSL_CERT_FILE set an http request
# costs no more than without it (1.1x: the noise of this measure). The two
# fields print at least 20x less than the walk. Then the 512 MiB download of
# tests/support/bench_download.sh, beside curl.
# Exits 1 when a figure is over its budget or misses its target.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

CARGO=${CARGO:-cargo}
TOKEN=test-token-0123456789abcdef
WALK=10000 # workflows in the pagination run; the API pages them 100 at a time
say() { printf 'bench: %s\n' "$*" >&2; }

# The tools come from Debian packages; install them when missing and allowed.
need() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing $pkg (apt-get install -y $pkg) for $cmd"
    apt-get install -y -qq "$pkg" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$pkg" >/dev/null; }
  fi
  command -v "$cmd" >/dev/null 2>&1 || { say "error: $cmd is needed (Debian package $pkg)"; exit 2; }
}
need hyperfine hyperfine
need /usr/bin/time time
NODE=$(command -v node || true)
[ -n "$NODE" ] || say "no node on PATH: the Node.js baseline is left out"

bash tests/support/release.sh x86_64-unknown-linux-musl >&2
BIN=$ROOT/target/dist/civitai-orch
say "cargo build --release --example fake-orchestrator"
"$CARGO" build -q --release --example fake-orchestrator
FAKE=$ROOT/target/release/examples/fake-orchestrator
# The floor: static like the binary, in a target folder of its own (other
# flags than release.sh's would rebuild everything there).
cc=gcc
command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
say "building the floor (the example floor, static, $cc for C)"
CC_x86_64_unknown_linux_musl=$cc CARGO_TARGET_DIR=$ROOT/target/floor \
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C relocation-model=static" \
  "$CARGO" build -q --release --target x86_64-unknown-linux-musl --example floor
FLOOR=$ROOT/target/floor/x86_64-unknown-linux-musl/release/examples/floor

WORK=$(mktemp -d)
. tests/support/fake.sh
cleanup() {
  stop_fakes
  rm -rf "$WORK"
}
trap cleanup EXIT

start_fake plain
URL_PLAIN=$URL
start_fake walk --synthetic "$WALK"
URL_WALK=$URL
WALK_PID=$FAKE_PID

cd "$WORK"
# run URL command...: the command in a clean environment (plus $EXTRA_ENV,
# one NAME=value, when set).
run() {
  local url=$1
  shift
  env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$WORK" \
    CIVITAI_API_URL="$url" CIVITAI_API_TOKEN="$TOKEN" ${EXTRA_ENV:+"$EXTRA_ENV"} "$@"
}

# hf URL RUNS WARMUP COMMAND: prints "median_ms cpu_ms" (cpu = mean user+sys).
hf() {
  local url=$1 runs=$2 warm=$3 cmd=$4
  run "$url" hyperfine -N --style none -w "$warm" -r "$runs" -n x \
    --export-csv "$WORK/hf.csv" "$cmd" >/dev/null 2>&1
  awk -F, 'NR == 2 { printf "%.3f %.3f\n", $4 * 1000, ($5 + $6) * 1000 }' "$WORK/hf.csv"
}

# rss URL RUNS COMMAND...: the largest peak RSS in KiB over RUNS runs.
rss() {
  local url=$1 runs=$2 max=0 kb i
  shift 2
  for ((i = 0; i < runs; i++)); do
    run "$url" /usr/bin/time -f %M -o "$WORK/rss" "$@" >/dev/null 2>&1
    kb=$(tail -n 1 "$WORK/rss")
    [ "$kb" -gt "$max" ] && max=$kb
  done
  echo "$max"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The static binary talks to the fake from a root that holds nothing else.
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1; then
  mkdir -p "$WORK/root"
  cp "$BIN" "$WORK/root/civitai-orch"
  run "$URL_PLAIN" chroot "$WORK/root" /civitai-orch workflows --take=1 >/dev/null
  say "the static binary works in an empty root (one request to the fake)"
fi

# The forms of the walk: what each prints, once (its size is a figure).
FULL="--jsonl workflows --all --take=100"
TEXT="workflows --all --take=100"
STATS="stats"
FIELDS="--jsonl workflows --all --take=100 --fields=id,status"
run "$URL_WALK" "$BIN" $FULL >"$WORK/full.out" 2>/dev/null
run "$URL_WALK" "$FLOOR" walk >"$WORK/floor.out"
cmp -s "$WORK/full.out" "$WORK/floor.out" ||
  { say "error: the floor's walk printed other lines than the binary's --jsonl walk"; exit 1; }
run "$URL_WALK" "$BIN" $STATS >"$WORK/stats.out"
run "$URL_WALK" "$BIN" $FIELDS >"$WORK/fields.out" 2>/dev/null
count=$(wc -l <"$WORK/full.out")
[ "$count" = "$WALK" ] || { say "error: the walk printed $count workflows, not $WALK"; exit 1; }
fcount=$(wc -l <"$WORK/fields.out")
[ "$fcount" = "$WALK" ] || { say "error: the --fields walk printed $fcount lines, not $WALK"; exit 1; }
grep -q "^Workflows: $WALK in " "$WORK/stats.out" ||
  { say "error: stats did not count $WALK workflows: $(head -n 1 "$WORK/stats.out")"; exit 1; }
full_bytes=$(wc -c <"$WORK/full.out")
stats_bytes=$(wc -c <"$WORK/stats.out")
fields_bytes=$(wc -c <"$WORK/fields.out")

N_VERSION="console.log('civitai-orch 0.1.0')"
N_ONE="fetch(process.env.CIVITAI_API_URL+'/v2/consumer/workflows?take=20',\
{headers:{authorization:'Bearer '+process.env.CIVITAI_API_TOKEN}})\
.then(r=>r.json()).then(j=>{for(const w of j.items)console.log(w.id,w.status)})"
N_WALK="(async()=>{const h={authorization:'Bearer '+process.env.CIVITAI_API_TOKEN};\
let c=null;do{const u=process.env.CIVITAI_API_URL+'/v2/consumer/workflows?take=100'\
+(c?'&cursor='+encodeURIComponent(c):'');const j=await(await fetch(u,{headers:h})).json();\
let s='';for(const w of j.items)s+=JSON.stringify(w)+'\n';process.stdout.write(s);\
c=j.next}while(c)})()"

say "measuring --version"
read -r v_wall _ < <(hf "$URL_PLAIN" 1000 50 "$BIN --version")
v_rss=$(rss "$URL_PLAIN" 10 "$BIN" --version)
# median NUMBERS...: the middle one (the mean of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# rounds N RUNS ENV=VALUE|- CMD...: "median_wall median_cpu" of each command
# (one output line per command, in order) over N rounds of RUNS runs each,
# the commands taking turns, so that the load of a shared machine falls on
# all of them alike. ENV=VALUE (or -) is set for the last command only.
rounds() {
  local n=$1 runs=$2 env_last=$3 r i w c
  shift 3
  local cmds=("$@") walls=() cpus=()
  for ((i = 0; i < ${#cmds[@]}; i++)); do walls[i]=""; cpus[i]=""; done
  for ((r = 0; r < n; r++)); do
    for ((i = 0; i < ${#cmds[@]}; i++)); do
      if [ "$i" = $((${#cmds[@]} - 1)) ] && [ "$env_last" != - ]; then
        read -r w c < <(EXTRA_ENV=$env_last hf "$URL_WALK" "$runs" 5 "${cmds[i]}")
      else
        read -r w c < <(hf "$URL_WALK" "$runs" 5 "${cmds[i]}")
      fi
      walls[i]+=" $w" cpus[i]+=" $c"
    done
  done
  for ((i = 0; i < ${#cmds[@]}; i++)); do
    # shellcheck disable=SC2086 # the lists split on purpose
    echo "$(median ${walls[i]}) $(median ${cpus[i]})"
  done
}

say "measuring workflows --take=20 beside the floor's one request (7 rounds of 60 runs)"
{
  read -r floor_one_wall floor_one_cpu
  read -r one_wall one_cpu
} < <(rounds 7 60 - "$FLOOR one" "$BIN workflows --take=20")
one_rss=$(rss "$URL_WALK" 10 "$BIN" workflows --take=20)
# SSL_CERT_FILE replaces the bundled roots; over http it must cost nothing.
CA=/etc/ssl/certs/ca-certificates.crt
ca_cpu=- ca_base_cpu=-
if [ -f "$CA" ]; then
  say "measuring workflows --take=20 with and without SSL_CERT_FILE (7 rounds of 60 runs)"
  {
    read -r _ ca_base_cpu
    read -r _ ca_cpu
  } < <(rounds 7 60 "SSL_CERT_FILE=$CA" "$BIN workflows --take=20" "$BIN workflows --take=20")
fi
say "measuring the floor's walk"
read -r floor_walk_wall floor_walk_cpu < <(hf "$URL_WALK" 5 1 "$FLOOR walk")
floor_walk_rss=$(rss "$URL_WALK" 3 "$FLOOR" walk)
say "measuring --all --jsonl over $WALK workflows"
t0=$(cpu_ticks "$WALK_PID")
read -r walk_wall walk_cpu < <(hf "$URL_WALK" 5 1 "$BIN --jsonl workflows --all --take=100")
t1=$(cpu_ticks "$WALK_PID")
walk_srv=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", d / hz * 1000 / 6 }')
walk_rss=$(rss "$URL_WALK" 3 "$BIN" $FULL)
say "measuring the text walk, stats and --fields=id,status --jsonl over the same walk"
read -r text_wall text_cpu < <(hf "$URL_WALK" 5 1 "$BIN $TEXT")
text_rss=$(rss "$URL_WALK" 3 "$BIN" $TEXT)
read -r stats_wall stats_cpu < <(hf "$URL_WALK" 5 1 "$BIN $STATS")
stats_rss=$(rss "$URL_WALK" 3 "$BIN" $STATS)
read -r fields_wall fields_cpu < <(hf "$URL_WALK" 5 1 "$BIN $FIELDS")
fields_rss=$(rss "$URL_WALK" 3 "$BIN" $FIELDS)
size=$(stat -c %s "$BIN")

if [ -n "$NODE" ]; then
  say "measuring the Node.js baseline"
  read -r nv_wall _ < <(hf "$URL_PLAIN" 30 3 "node -e \"$N_VERSION\"")
  nv_rss=$(rss "$URL_PLAIN" 3 node -e "$N_VERSION")
  read -r none_wall none_cpu < <(hf "$URL_WALK" 20 2 "node -e \"$N_ONE\"")
  none_rss=$(rss "$URL_WALK" 3 node -e "$N_ONE")
  read -r nwalk_wall nwalk_cpu < <(hf "$URL_WALK" 3 1 "node -e \"$N_WALK\"")
  nwalk_rss=$(rss "$URL_WALK" 2 node -e "$N_WALK")
  ncount=$(run "$URL_WALK" node -e "$N_WALK" | wc -l)
  [ "$ncount" = "$WALK" ] || say "warning: the Node.js walk printed $ncount workflows"
  nsize=$(stat -L -c %s "$NODE")
else
  nv_wall=- nv_rss=- none_wall=- none_cpu=- none_rss=- nwalk_wall=- nwalk_cpu=- nwalk_rss=- nsize=-
fi

over=0
# row LABEL OURS NODE UNIT BUDGET: one table line; BUDGET empty for none.
row() {
  local label=$1 ours=$2 node=$3 unit=$4 budget=$5 verdict="" ratio="-"
  if [ "$node" != - ]; then
    ratio=$(awk -v a="$ours" -v b="$node" 'BEGIN { r = b / a; printf (r < 10 ? "%.1fx" : "%.0fx"), r }')
  fi
  if [ -n "$budget" ]; then
    if awk -v a="$ours" -v b="$budget" 'BEGIN { exit !(a < b) }'; then
      verdict="< $budget $unit: ok"
    else
      verdict="< $budget $unit: OVER"
      over=1
    fi
  fi
  [ "$node" = - ] || node="$node $unit"
  printf '| %s | %s %s | %s | %s | %s |\n' "$label" "$ours" "$unit" "$node" "$ratio" "$verdict"
}
mb() { awk -v b="$1" 'BEGIN { printf "%.3f", b / 1e6 }'; }
mib() { [ "$1" = - ] && echo - || awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ms() { [ "$1" = - ] && echo - || awk -v m="$1" 'BEGIN { printf (m < 10 ? "%.2f" : "%.0f"), m }'; }
sec() { [ "$1" = - ] && echo - || awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }

cat <<EOF

date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)
civitai-orch: $(file -b "$BIN" 2>/dev/null | sed 's/, BuildID[^,]*//'); $(rustc -V)
baseline: ${NODE:-none} $([ -n "$NODE" ] && node -v) with fetch; fake orchestrator on 127.0.0.1

| measure | civitai-orch | node fetch | node / ours | budget |
|---|---|---|---|---|
EOF
row "binary size (node: its executable)" "$(mb "$size")" "$([ "$nsize" = - ] && echo - || mb "$nsize")" MB 2.0
row "--version: wall, median" "$(ms "$v_wall")" "$(ms "$nv_wall")" ms 2
row "--version: peak RSS" "$(mib "$v_rss")" "$(mib "$nv_rss")" MiB 4
row "workflows --take=20: CPU (user+sys)" "$(ms "$one_cpu")" "$(ms "$none_cpu")" ms 5
row "workflows --take=20: wall, median" "$(ms "$one_wall")" "$(ms "$none_wall")" ms ""
[ "$ca_cpu" = - ] || row "the same with SSL_CERT_FILE=$CA: CPU" "$(ms "$ca_cpu")" - ms ""
row "workflows --take=20: peak RSS" "$(mib "$one_rss")" "$(mib "$none_rss")" MiB ""
row "$WALK workflows, --all --jsonl: CPU" "$(sec "$walk_cpu")" "$(sec "$nwalk_cpu")" s ""
row "$WALK workflows, --all --jsonl: wall, median" "$(sec "$walk_wall")" "$(sec "$nwalk_wall")" s ""
row "$WALK workflows, --all --jsonl: peak RSS" "$(mib "$walk_rss")" "$(mib "$nwalk_rss")" MiB 10
cat <<EOF

The walk is $((WALK / 100)) pages of 100 (the API's largest page); of its wall time the fake
server spent about $(sec "$walk_srv") s of CPU per run building the pages.
EOF

# Each figure beside the floor's of this run.
# ratio A B: A / B to two places.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# within R MAX: true when the ratio R is at most MAX.
within() { awk -v r="$1" -v m="$2" 'BEGIN { exit !(r <= m) }'; }
# floor_row LABEL OURS BASE UNIT MAX [BASE_NOTE]: one line; MAX is the largest
# ratio allowed, none when empty.
floor_row() {
  local label=$1 ours=$2 base=$3 unit=$4 max=$5 note=${6:-} r verdict=""
  r=$(ratio "$ours" "$base")
  if [ -n "$max" ]; then
    if within "$r" "$max"; then verdict="<= ${max}x: ok"; else verdict="<= ${max}x: OVER"; over=1; fi
  fi
  printf '| %s | %s %s | %s %s%s | %sx | %s |\n' "$label" "$ours" "$unit" "$base" "$unit" "$note" "$r" "$verdict"
}
# rss_row LABEL KIB: peak RSS against the 10 MiB budget, beside the floor's walk.
rss_row() {
  local verdict="< 10 MiB: ok"
  awk -v k="$2" 'BEGIN { exit !(k / 1024 < 10) }' || { verdict="< 10 MiB: OVER"; over=1; }
  printf '| %s | %s MiB | %s MiB | %sx | %s |\n' "$1" "$(mib "$2")" "$(mib "$floor_walk_rss")" \
    "$(ratio "$2" "$floor_walk_rss")" "$verdict"
}
rout=$(awk -v a="$full_bytes" -v b="$fields_bytes" 'BEGIN { printf "%.0f", a / b }')
cat <<EOF

Beside the floor (the same crates doing the least for the same work), this run:

| measure | civitai-orch | floor | ours / floor | budget |
|---|---|---|---|---|
EOF
floor_row "workflows --take=20: CPU" "$(ms "$one_cpu")" "$(ms "$floor_one_cpu")" ms 1.2
[ "$ca_cpu" = - ] ||
  floor_row "the same with SSL_CERT_FILE, over http: CPU" "$(ms "$ca_cpu")" "$(ms "$ca_base_cpu")" ms 1.1 " (ours, without)"
floor_row "$WALK workflows, --all --jsonl: CPU" "$(sec "$walk_cpu")" "$(sec "$floor_walk_cpu")" s 1.5
floor_row "the same in text: CPU" "$(sec "$text_cpu")" "$(sec "$floor_walk_cpu")" s 2
floor_row "the same, --fields=id,status --jsonl: CPU" "$(sec "$fields_cpu")" "$(sec "$floor_walk_cpu")" s 2.5
floor_row "stats over the same: CPU" "$(sec "$stats_cpu")" "$(sec "$floor_walk_cpu")" s 2.5
floor_row "$WALK workflows, --all --jsonl: wall, median" "$(sec "$walk_wall")" "$(sec "$floor_walk_wall")" s ""
rss_row "--all --jsonl: peak RSS" "$walk_rss"
rss_row "text: peak RSS" "$text_rss"
rss_row "--fields=id,status --jsonl: peak RSS" "$fields_rss"
rss_row "stats: peak RSS" "$stats_rss"
out_verdict="ok"
[ "$rout" -ge 20 ] || { out_verdict="MISSED"; over=1; }
cat <<EOF

--fields=id,status --jsonl printed $fields_bytes bytes, $rout times fewer than the --jsonl
walk's $full_bytes (target: at least 20x): $out_verdict. stats printed $stats_bytes bytes.
EOF

# VARIANTS="s z 3 s+ureq/gzip": the same binary at other opt-levels, or with
# one more dependency feature, each in a target folder of its own, to show
# what `[profile.release]` and the feature lists trade.
if [ -n "${VARIANTS:-}" ]; then
  cc=gcc
  command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
  # The same flags as release.sh, so that only the variant differs.
  pie="-C relocation-model=static"
  [ "${STATIC_PIE:-}" = 1 ] && pie=""
  printf '\n| variant | size | --version wall | --take=20 CPU | %s-workflow walk CPU |\n|---|---|---|---|---|\n' "$WALK"
  for v in $VARIANTS; do
    level=${v%%+*} features=""
    case $v in *+*) features=${v#*+} ;; esac
    case $level in s | z) level="\"$level\"" ;; esac
    dir=$ROOT/target/variant-${v//\//-}
    say "building variant $v"
    (cd "$ROOT" && CC_x86_64_unknown_linux_musl=$cc CARGO_TARGET_DIR=$dir \
      CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="$pie" \
      "$CARGO" build -q --release --target x86_64-unknown-linux-musl --bin civitai-orch \
      --config "profile.release.opt-level=$level" ${features:+--features "$features"})
    b=$dir/x86_64-unknown-linux-musl/release/civitai-orch
    read -r lv _ < <(hf "$URL_PLAIN" 1000 50 "$b --version")
    read -r _ lone < <(hf "$URL_WALK" 300 20 "$b workflows --take=20")
    read -r _ lwalk < <(hf "$URL_WALK" 3 1 "$b --jsonl workflows --all --take=100")
    printf '| %s | %s MB | %s ms | %s ms | %s s |\n' "$v" "$(mb "$(stat -c %s "$b")")" \
      "$(ms "$lv")" "$(ms "$lone")" "$(sec "$lwalk")"
  done
fi
say "the 512 MiB download beside curl (tests/support/bench_download.sh)"
echo
bash "$ROOT/tests/support/bench_download.sh" "$BIN" "$FAKE" || over=1
if [ "$over" = 1 ]; then
  say "over budget"
  exit 1
fi
