#!/usr/bin/env bash
# `make demo`: start the fake orchestrator on loopback and run a few
# commands against it, as a new user would. No token of your own needed.
set -euo pipefail
bin=${1:-target/debug/civitai-orch}
fake=${2:-target/debug/examples/fake-orchestrator}
FAKE=$fake
WORK=$(mktemp -d)
. "$(dirname "$0")/fake.sh"
trap 'stop_fakes; rm -rf "$WORK"' EXIT
start_fake demo
export CIVITAI_API_URL=$URL
export CIVITAI_API_TOKEN=test-token-0123456789abcdef
run() {
  printf '\n\033[1m$ civitai-orch %s\033[0m\n' "$*"
  "$bin" "$@" || echo "(exit code $?)"
}
run test
run workflows --take=3 --tag=user:12345
run workflows --all --take=2 --status=succeeded --limit=3 --jsonl
run job 58de87d7-d594-4d71-ae43-dd8fc1bcbd23
run results 0-019be461-77aa-7c02-8d1e-6b0f2e9a1c44 --download --dir="$WORK/out"
run blob JNFDW54JNTATNW42HACYCWSQP0.jpeg
run workflow 0-019be4ff-0000-7000-8000-00000000dead
