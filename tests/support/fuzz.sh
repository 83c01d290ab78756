#!/usr/bin/env bash
# `make fuzz`: builds the cargo-fuzz targets of fuzz/ and runs each one in
# turn for FUZZ_SECS seconds (default 20), one fuzzer process at a time.
#
#   tests/support/fuzz.sh [TARGET...]   (default: every target, render first)
#   FUZZ_SECS=600 tests/support/fuzz.sh names
#
# It works on a fresh machine: the nightly toolchain (minimal profile) and
# cargo-fuzz are installed when missing. Each target starts from its seeds
# in fuzz/seeds/TARGET (committed) and grows fuzz/corpus/TARGET (not
# committed, kept between runs, so later runs start where earlier ones
# stopped); argv, render and blobs get a dictionary of the spellings they
# look for. The whole log of a run is in fuzz/logs/TARGET.log. A target that
# fails leaves its input in fuzz/artifacts/TARGET/; the others still run, and
# the script then exits 1 naming each failure and its input.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  . "$HOME/.cargo/env"
fi
SECS=${FUZZ_SECS:-20}
ALL=(render argv names dates env_file blobs)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
say() { printf 'fuzz: %s\n' "$*"; }

# libFuzzer's instrumentation (-Zsanitizer) needs nightly.
if ! cargo +nightly --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
# libfuzzer-sys compiles libFuzzer itself, which is C++.
if ! command -v c++ >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing a C++ compiler for libFuzzer"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq g++ >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq g++ >/dev/null 2>&1; }
fi

# One build for all targets, so the timed runs only fuzz.
cargo +nightly fuzz build

dict_for() {
  case "$1" in
    argv) echo "-dict=fuzz/argv.dict" ;;
    render | blobs) echo "-dict=fuzz/json.dict" ;;
  esac
}

mkdir -p fuzz/logs
failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  log="fuzz/logs/$t.log"
  # -timeout: an input that takes 10 s is a bug of its own (a hang or a
  # quadratic walk), reported like a crash.
  cmd=(cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" --
    "-max_total_time=$SECS" -timeout=10 $(dict_for "$t"))
  say "${cmd[*]}"
  if "${cmd[@]}" >"$log" 2>&1; then
    # "Done N runs in S second(s)" and the last status line (cov, corpus).
    grep -E '^Done [0-9]+ runs' "$log" | tail -1 | sed 's/^/  /'
    grep -E '^#[0-9]+' "$log" | tail -1 | sed 's/^/  /'
  else
    failed+=("$t")
    say "$t FAILED; the end of $log:"
    tail -n 40 "$log" | sed 's/^/  /'
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    say "$t failed; input: $(ls -t "fuzz/artifacts/$t"/* 2>/dev/null | head -1)"
  done
  exit 1
fi
say "no failures in ${TARGETS[*]} (${SECS}s each)"
