#!/usr/bin/env bash
# `make size-costs`: what each size saving of the release build costs in
# CPU. The release binary (std without backtrace printing, no unwind
# tables, opt-level "z") is built again with one saving
# left out at a time, each in a target folder of its own, and every build is
# measured the same way in one run: its size, `--version` wall time, CPU of
# one request (`workflows --take=20`) and of the 10,000-workflow
# `--all --jsonl` walk against the fake orchestrator on 127.0.0.1.
#
#   tests/support/size_costs.sh          (about 15 minutes on 2 cores)
#
# Not a test and not a budget: a table for the README. Needs nightly with
# rust-src (as `make release`), hyperfine, and musl-gcc or gcc.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CARGO=${CARGO:-cargo}
T=x86_64-unknown-linux-musl
TOKEN=test-token-0123456789abcdef
say() { printf 'size-costs: %s\n' "$*" >&2; }

command -v hyperfine >/dev/null || { say "error: needs hyperfine (apt-get install -y hyperfine)"; exit 2; }
cc=gcc
command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
LAYOUT="-C relocation-model=static -C link-arg=-Wl,-z,noseparate-code"
NO_UNWIND="-C link-arg=-Wl,-T,$ROOT/tests/support/no-unwind-tables.ld"
LEAN=(+nightly -Z build-std=std,panic_abort -Z build-std-features=)

# build NAME RUSTFLAGS TOOLCHAIN_AND_STD... -- CARGO_ARGS...: one variant.
build() {
  local name=$1 flags=$2
  shift 2
  local pre=()
  while [ "$1" != -- ]; do pre+=("$1"); shift; done
  shift
  say "building $name"
  CC_x86_64_unknown_linux_musl=$cc CARGO_TARGET_DIR=$ROOT/target/size-costs/$name \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="$flags" \
    "$CARGO" ${pre[0]:+"${pre[0]}"} build -q --release --target $T --bin civitai-orch \
    "${pre[@]:1}" "$@"
  echo "$ROOT/target/size-costs/$name/$T/release/civitai-orch"
}

declare -A BIN
BIN[release]=$(build release "$LAYOUT $NO_UNWIND" "${LEAN[@]}" --)
BIN[with-unwind-tables]=$(build with-unwind-tables "$LAYOUT" "${LEAN[@]}" --)
BIN[stable-std]=$(build stable-std "$LAYOUT $NO_UNWIND" "" --)
BIN[opt-s]=$(build opt-s "$LAYOUT $NO_UNWIND" "${LEAN[@]}" -- --config 'profile.release.opt-level="s"')
BIN[serde_json-3]=$(build serde_json-3 "$LAYOUT $NO_UNWIND" "${LEAN[@]}" -- \
  --config 'profile.release.package.serde_json.opt-level=3')
BIN[ureq-3]=$(build ureq-3 "$LAYOUT $NO_UNWIND" "${LEAN[@]}" -- \
  --config 'profile.release.package.ureq.opt-level=3' --config 'profile.release.package.ureq-proto.opt-level=3')

"$CARGO" build -q --release --example fake-orchestrator
FAKE=$ROOT/target/release/examples/fake-orchestrator
WORK=$(mktemp -d)
. tests/support/fake.sh
trap 'stop_fakes; rm -rf "$WORK"' EXIT
start_fake walk --synthetic 10000

# hf RUNS WARMUP COMMAND: "median_ms cpu_ms" of one command.
hf() {
  env -i PATH="$PATH" HOME="$WORK" CIVITAI_API_URL="$URL" CIVITAI_API_TOKEN="$TOKEN" \
    hyperfine -N --style none -w "$2" -r "$1" --export-csv "$WORK/hf.csv" "$3" >/dev/null 2>&1
  awk -F, 'NR == 2 { printf "%.3f %.3f\n", $4 * 1000, ($5 + $6) * 1000 }' "$WORK/hf.csv"
}

printf '\n| build | size | vs release | --version wall | --take=20 CPU | 10k --jsonl walk CPU |\n|---|---|---|---|---|---|\n'
base=$(stat -c %s "${BIN[release]}")
for name in release with-unwind-tables stable-std opt-s serde_json-3 ureq-3; do
  b=${BIN[$name]}
  size=$(stat -c %s "$b")
  read -r v _ < <(hf 500 30 "$b --version")
  read -r _ one < <(hf 300 20 "$b workflows --take=20")
  read -r _ walk < <(hf 5 1 "$b --jsonl workflows --all --take=100")
  printf '| %s | %s B | %+d B | %.2f ms | %.2f ms | %.3f s |\n' "$name" "$size" $((size - base)) \
    "$v" "$one" "$(awk -v m="$walk" 'BEGIN { print m / 1000 }')"
done
