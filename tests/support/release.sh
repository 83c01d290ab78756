#!/usr/bin/env bash
# `make release`: fully static, stripped binaries with the size-tuned
# `[profile.release]` of Cargo.toml, copied to target/dist/.
#
#   tests/support/release.sh [TRIPLE...]   (default: x86_64 and aarch64 musl)
#
# It works on a fresh machine: a missing rustup target is added, and the C
# parts of `ring` are compiled with musl-gcc (Debian's musl-tools) when it is
# there, else with the system gcc, which is enough for ring's freestanding C.
# When the x86_64 musl target cannot be had at all, the fallback is a glibc
# build linked with `+crt-static`: still one file with no runtime, but glibc's
# static resolver wants NSS modules at run time, which musl's does not.
# aarch64 needs a cross C compiler and linker; without one it is skipped.
# RELEASE_STRICT=1 (as `make dist` sets) turns every skip and the glibc
# fallback into an error: one line, exit 1.
#
# The musl binaries are linked without PIE: a static-pie carries a relocation
# table and GOT (62 KB here) that the 2.0 MB size budget has no room for, and
# start-up is no slower without them. The price is that the executable image
# loads at a fixed address (the stack, heap and mmaps are still randomised).
# STATIC_PIE=1 builds static-pie binaries instead.
#
# They are also linked with `-z noseparate-code`: the read-only data shares
# the executable segment instead of starting a page-aligned segment of its
# own, which saves the padding between them. The price is that constant data is mapped
# executable too.
#
# std is built from source without its `backtrace` feature when a nightly
# toolchain with rust-src can be had (rustup installs it when missing):
# std's backtrace printing (gimli, addr2line, rustc-demangle; about 280 KB
# here) is code a panic = "abort" binary never needs, and stable Rust links
# it anyway. A panic still prints its message. LEAN_STD=0 builds with
# stable's prebuilt std instead, as does a machine where nightly cannot be
# had (with a note).
#
# And without unwind tables (tests/support/no-unwind-tables.ld, 172 KB here):
# with panic = "abort" nothing reads them but a panic's RUST_BACKTRACE, which
# then prints an empty backtrace after the panic message.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO=${CARGO:-cargo}
DIST=target/dist
mkdir -p "$DIST"
say() { printf 'release: %s\n' "$*"; }

# skip TRIPLE REASON: goes on without that target, or stops the run under
# RELEASE_STRICT=1.
skip() {
  if [ "${RELEASE_STRICT:-}" = 1 ]; then
    say "error: cannot build $1: $2" >&2
    exit 1
  fi
  say "skipping $1: $2"
}

# Extra rustc flags for the musl targets (see above).
musl_flags() {
  local layout="-C link-arg=-Wl,-z,noseparate-code -C link-arg=-Wl,-T,$PWD/tests/support/no-unwind-tables.ld"
  if [ "${STATIC_PIE:-}" = 1 ]; then echo "$layout"; else echo "-C relocation-model=static $layout"; fi
}

# True when `cargo +nightly -Z build-std` can build for $1: the nightly
# toolchain with rust-src and the target. What is missing is added with
# rustup: the target or rust-src alone to a nightly already there (an
# installed nightly is never updated), else nightly itself.
lean_std() {
  [ "${LEAN_STD:-1}" = 1 ] && [ "$CARGO" = cargo ] || return 1
  command -v rustup >/dev/null 2>&1 || return 1
  local sysroot
  if sysroot=$(rustc +nightly --print sysroot 2>/dev/null); then
    if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
      say "adding rust-src to nightly (for std without backtrace printing)"
      rustup component add --toolchain nightly rust-src >/dev/null 2>&1 || {
        say "note: rust-src cannot be had here; building with stable's std (larger)"
        return 1
      }
    fi
    if [ ! -d "$sysroot/lib/rustlib/$1/lib" ]; then
      say "adding the Rust target $1 to nightly (rustup target add --toolchain nightly $1)"
      rustup target add --toolchain nightly "$1" >/dev/null 2>&1 || {
        say "note: nightly's $1 cannot be had here; building with stable's std (larger)"
        return 1
      }
    fi
  else
    say "installing nightly with rust-src and $1 (for std without backtrace printing)"
    rustup toolchain install nightly --profile minimal -c rust-src -t "$1" >/dev/null 2>&1 || {
      say "note: nightly cannot be had here; building with stable's std (larger)"
      return 1
    }
  fi
}

have_target() {
  rustc --print sysroot >/dev/null 2>&1 || return 1
  [ -d "$(rustc --print sysroot)/lib/rustlib/$1/lib" ]
}

# Adds a rustup target when missing; false when it cannot be had.
ensure_target() {
  have_target "$1" && return 0
  if command -v rustup >/dev/null 2>&1; then
    say "adding the Rust target $1 (rustup target add $1)"
    rustup target add "$1" && return 0
  fi
  return 1
}

# Checks that a freshly built binary is static and runs with nothing around
# it: `--version`, and a request to a closed port on 127.0.0.1 that must fail
# as a network error (exit 5), in a root holding only the binary.
check_static() {
  local bin=$1 desc
  desc=$(file -b "$bin" 2>/dev/null || echo "?")
  say "$bin: $(stat -c %s "$bin") bytes; $desc"
  case $desc in
    *"static-pie linked"* | *"statically linked"*) ;;
    "?") say "(no 'file' command: static linking not checked)" ;;
    *) say "error: $bin is not statically linked"; return 1 ;;
  esac
  if [ "$(id -u)" != 0 ] || ! command -v chroot >/dev/null 2>&1; then
    say "not root: skipping the empty-root check"
    return 0
  fi
  local root code=0
  root=$(mktemp -d)
  cp "$bin" "$root/civitai-orch"
  chroot "$root" /civitai-orch --version
  env -i CIVITAI_API_TOKEN=unused "$(command -v chroot)" "$root" /civitai-orch \
    --quiet --retries=0 --timeout=5 --api-url=http://127.0.0.1:1 test 2>/dev/null || code=$?
  rm -rf "$root"
  if [ "$code" != 5 ]; then
    say "error: in an empty root, a refused connection gave exit code $code, not 5"
    return 1
  fi
  say "runs in an empty root (no /etc, no /lib, no CA files)"
}

# The C compiler for ring's C parts on x86_64 musl.
musl_cc() {
  if command -v musl-gcc >/dev/null 2>&1; then
    echo musl-gcc
  else
    say "no musl-gcc (Debian: apt-get install musl-tools); compiling C parts with gcc" >&2
    echo gcc
  fi
}

# `release.sh --debug-static`: the debug build for x86_64 musl that `make
# test` runs in an empty root (tests/cli/empty_root.rs), with the default
# flags of the target (static-pie). Where the target cannot be had, a note
# and no binary: the test then says it was skipped.
debug_static() {
  local t=x86_64-unknown-linux-musl
  if [ "$(uname -m)" != x86_64 ] || ! ensure_target "$t" >&2; then
    say "note: no static $t debug build here; the empty-root test will be skipped"
    return 0
  fi
  say "cargo build --target $t --bin civitai-orch (debug, static, for the empty-root test)"
  CC_x86_64_unknown_linux_musl=$(musl_cc) "$CARGO" build -q --target "$t" --bin civitai-orch
}

build_x86_64() {
  local t=x86_64-unknown-linux-musl
  if [ "$(uname -m)" != x86_64 ]; then
    skip "$t" "this machine is $(uname -m)"
    return 0
  fi
  if ensure_target "$t"; then
    local cc
    cc=$(musl_cc)
    local toolchain=() std=()
    if lean_std "$t"; then
      toolchain=(+nightly)
      std=(-Z build-std=std,panic_abort -Z build-std-features=)
    fi
    say "cargo ${toolchain[*]} build --release --target $t ${std[*]} (C compiler: $cc; rustc flags: $(musl_flags))"
    CC_x86_64_unknown_linux_musl=$cc \
      CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:-} $(musl_flags)" \
      "$CARGO" "${toolchain[@]}" build --release --target "$t" --bin civitai-orch "${std[@]}"
    cp "target/$t/release/civitai-orch" "$DIST/civitai-orch-$t"
    check_static "$DIST/civitai-orch-$t"
    cp "$DIST/civitai-orch-$t" "$DIST/civitai-orch"
  else
    local g=x86_64-unknown-linux-gnu
    [ "${RELEASE_STRICT:-}" != 1 ] || skip "$t" "the Rust target cannot be installed here (rustup target add $t)"
    say "WARNING: the Rust target $t cannot be installed here;"
    say "WARNING: building a static glibc binary instead (-C target-feature=+crt-static)"
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      "$CARGO" build --release --target "$g" --bin civitai-orch
    cp "target/$g/release/civitai-orch" "$DIST/civitai-orch-$g-static"
    check_static "$DIST/civitai-orch-$g-static"
    cp "$DIST/civitai-orch-$g-static" "$DIST/civitai-orch"
  fi
  say "built $DIST/civitai-orch"
}

build_aarch64() {
  local t=aarch64-unknown-linux-musl cc="" c
  for c in aarch64-linux-musl-gcc aarch64-linux-gnu-gcc; do
    if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
  done
  if [ -z "$cc" ]; then
    skip "$t" "no cross C compiler and linker (Debian: apt-get install gcc-aarch64-linux-gnu)"
    return 0
  fi
  if ! ensure_target "$t"; then
    skip "$t" "the Rust target cannot be installed here (rustup target add $t)"
    return 0
  fi
  local toolchain=() std=()
  if lean_std "$t"; then
    toolchain=(+nightly)
    std=(-Z build-std=std,panic_abort -Z build-std-features=)
  fi
  say "cargo ${toolchain[*]} build --release --target $t ${std[*]} (C compiler and linker: $cc; rustc flags: $(musl_flags))"
  # rustc links musl's own startup files and libc (self-contained, from the
  # target's rust-std, also under build-std), so a glibc cross gcc serves as
  # the linker.
  CC_aarch64_unknown_linux_musl=$cc \
    AR_aarch64_unknown_linux_musl=${cc%gcc}ar \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=$cc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS:-} $(musl_flags)" \
    "$CARGO" "${toolchain[@]}" build --release --target "$t" --bin civitai-orch "${std[@]}"
  cp "target/$t/release/civitai-orch" "$DIST/civitai-orch-$t"
  local bin="$DIST/civitai-orch-$t"
  say "$bin: $(stat -c %s "$bin") bytes; $(file -b "$bin" 2>/dev/null || echo '?')"
  if command -v qemu-aarch64-static >/dev/null 2>&1; then
    qemu-aarch64-static "$bin" --version
  elif command -v qemu-aarch64 >/dev/null 2>&1; then
    qemu-aarch64 "$bin" --version
  else
    say "no qemu-aarch64 (Debian: apt-get install qemu-user): $bin is not run here"
  fi
}

if [ "${1:-}" = --debug-static ]; then
  debug_static
  exit
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
for t in "${targets[@]}"; do
  case $t in
    x86_64-unknown-linux-musl) build_x86_64 ;;
    aarch64-unknown-linux-musl) build_aarch64 ;;
    *) say "unknown target $t"; exit 2 ;;
  esac
done
