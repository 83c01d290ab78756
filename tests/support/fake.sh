# Sourced by the scripts that run the fake orchestrator as a program (the
# demo and the benchmarks). Needs $FAKE (its binary) and $WORK (a scratch
# folder). `start_fake NAME [ARGS...]` starts one and sets $URL (its API),
# $CDN (its CDN) and $FAKE_PID; `stop_fakes` ends every one started.
PIDS=()

start_fake() {
  local name=$1
  shift
  "$FAKE" --url-file "$WORK/$name.url" "$@" >"$WORK/$name.log" 2>&1 &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  local _
  for _ in $(seq 100); do [ -s "$WORK/$name.url" ] && break; sleep 0.05; done
  if [ ! -s "$WORK/$name.url" ]; then
    echo "the fake orchestrator did not start; see $WORK/$name.log" >&2
    return 1
  fi
  URL=$(cat "$WORK/$name.url")
  CDN=$(sed -n 's/.* CDN \([^ ]*\) .*/\1/p' "$WORK/$name.log")
}

stop_fakes() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
