#!/usr/bin/env bash
# `make dist`: the release archives, in target/dist/:
#
#   civitai-orch-VERSION-x86_64-unknown-linux-musl.tar.gz
#   civitai-orch-VERSION-aarch64-unknown-linux-musl.tar.gz
#   SHA256SUMS                       (sha256sum -c SHA256SUMS checks both)
#
# Each holds one folder, civitai-orch-VERSION-TRIPLE/, with the static
# binary `civitai-orch`, README.md, LICENSE, SKILL.md, the man page
# `civitai-orch.1` and completions/ (civitai-orch.bash, _civitai-orch for
# zsh, civitai-orch.fish), printed by the binary's own `completions`.
# VERSION is the one of Cargo.toml.
#
# The binaries are built by release.sh under RELEASE_STRICT=1: a part that
# cannot be built stops the run with one `error:` line and exit 1, never a
# smaller set of archives. What a clean machine lacks is installed first:
# the aarch64 cross compiler (gcc-aarch64-linux-gnu) and musl-tools with
# apt when root, the rustup targets by release.sh. qemu-user is installed
# too when it can be, to run the aarch64 binary's `--version`; without it
# that check is skipped with a note.
#
# The archives are reproducible from the same binaries: names sorted,
# every mtime that of the last commit (SOURCE_DATE_EPOCH when set), owner
# and group 0, modes 755/644, and `gzip -n` (no name, no time).
set -euo pipefail
cd "$(dirname "$0")/../.."

DIST=target/dist
TRIPLES=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
say() { printf 'dist: %s\n' "$*"; }
die() {
  printf 'dist: error: %s\n' "$*" >&2
  exit 1
}

VERSION=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
[ -n "$VERSION" ] || die "no version in Cargo.toml's [package]"

# apt-get install PACKAGE... when root on a Debian-like machine; false when
# it cannot be done.
apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  say "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }
}

if ! command -v aarch64-linux-musl-gcc >/dev/null 2>&1 &&
  ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
  apt_install gcc-aarch64-linux-gnu ||
    die "no aarch64 cross compiler, and gcc-aarch64-linux-gnu cannot be installed (run as root: apt-get install gcc-aarch64-linux-gnu)"
fi
# musl-gcc for ring's C parts on x86_64 (release.sh uses gcc without it).
command -v musl-gcc >/dev/null 2>&1 || apt_install musl-tools ||
  say "note: no musl-tools; ring's C parts are compiled with gcc"
if ! command -v qemu-aarch64 >/dev/null 2>&1 && ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  apt_install qemu-user || apt_install qemu-user-static ||
    say "note: qemu-user cannot be had here; the aarch64 binary will not be run"
fi

RELEASE_STRICT=1 CARGO="${CARGO:-cargo}" bash tests/support/release.sh "${TRIPLES[@]}" ||
  die "release.sh failed (see above)"

host_bin="$DIST/civitai-orch-x86_64-unknown-linux-musl"
for t in "${TRIPLES[@]}"; do
  [ -x "$DIST/civitai-orch-$t" ] || die "release.sh left no $DIST/civitai-orch-$t"
done

# --version of each binary (the aarch64 one under qemu when here) must
# name this version.
check_version() {
  local out
  out=$("$@" --version) || die "'$* --version' failed"
  [ "$out" = "civitai-orch $VERSION" ] ||
    die "'$* --version' printed '$out', not 'civitai-orch $VERSION'"
  say "$* --version: $out"
}
check_version "$host_bin"
qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
if [ -n "$qemu" ]; then
  check_version "$qemu" "$DIST/civitai-orch-aarch64-unknown-linux-musl"
else
  say "note: no qemu-aarch64: the aarch64 binary's --version is not checked"
fi

# The man page, from the same tables as --help (as `make man`).
man=$(mktemp)
stage=$(mktemp -d)
trap 'rm -rf "$man" "$stage"' EXIT
"${CARGO:-cargo}" run -q --example man >"$man" || die "the man page could not be made (cargo run --example man)"
[ -s "$man" ] || die "the man page is empty"

if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  epoch=$SOURCE_DATE_EPOCH
elif ! epoch=$(git log -1 --format=%ct 2>/dev/null) || [ -z "$epoch" ]; then
  die "not a git checkout: set SOURCE_DATE_EPOCH for the archives' mtime"
fi

archives=()
for t in "${TRIPLES[@]}"; do
  name="civitai-orch-$VERSION-$t"
  dir="$stage/$name"
  mkdir -p "$dir/completions"
  install -m 755 "$DIST/civitai-orch-$t" "$dir/civitai-orch"
  install -m 644 README.md LICENSE SKILL.md "$dir/"
  install -m 644 "$man" "$dir/civitai-orch.1"
  # The completions are the same on every target: printed by the x86_64
  # binary here, which runs on this machine.
  "$host_bin" completions bash >"$dir/completions/civitai-orch.bash"
  "$host_bin" completions zsh >"$dir/completions/_civitai-orch"
  "$host_bin" completions fish >"$dir/completions/civitai-orch.fish"
  chmod 755 "$dir" "$dir/completions"
  chmod 644 "$dir"/completions/*
  for f in "$dir"/completions/*; do [ -s "$f" ] || die "$f is empty"; done
  tar --sort=name --format=gnu --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - "$name" | gzip -n -9 >"$DIST/$name.tar.gz.tmp"
  mv "$DIST/$name.tar.gz.tmp" "$DIST/$name.tar.gz"
  archives+=("$name.tar.gz")
done

(cd "$DIST" && sha256sum "${archives[@]}" >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not check"

for a in "${archives[@]}"; do
  tops=$(tar -tzf "$DIST/$a" | cut -d/ -f1 | sort -u)
  [ "$tops" = "${a%.tar.gz}" ] || die "$a does not hold one top folder ${a%.tar.gz}/"
  say "$DIST/$a: $(stat -c %s "$DIST/$a") bytes"
done
for t in "${TRIPLES[@]}"; do
  say "binary $t: $(stat -c %s "$DIST/civitai-orch-$t") bytes"
done
say "$DIST/SHA256SUMS:"
sed 's/^/  /' "$DIST/SHA256SUMS"
