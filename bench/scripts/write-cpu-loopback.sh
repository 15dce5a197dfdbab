#!/usr/bin/env bash
# CPU per session-writing request over loopback, this tree and optionally earlier built trees,
# interleaved: the counter workload of bench:was (GET /count, 16 sessions in rotation, wrk 1
# thread, 16 keep-alive connections) on a 2-node cluster (delta, async, cluster key, static
# membership) on 127.0.0.1, without bench:was's network namespaces (whose veth bridge adds the
# kernel's forwarding to every write). CPU = utime+stime of both nodes (/proc/<pid>/stat) over
# the wrk run, divided by the requests.
#   bash bench/scripts/write-cpu-loopback.sh [--reps N] [--seconds S] [TREE...]   (default TREE: this one)
# A TREE is a built checkout (packages/was-node/dist/cli.js), e.g. a git worktree of an earlier
# commit with its own `npx -y pnpm@10.34.9 install --offline --frozen-lockfile && npx tsc -b`.
# Traffic: 127.0.0.1 only. Every process is started here and stopped by its PID; wrk is bounded.
set -euo pipefail
REPS=3; SECS=10; TREES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    *) TREES+=("$(cd "$1" && pwd)"); shift ;;
  esac
done
HERE=$(cd "$(dirname "$0")/../.." && pwd)
[ ${#TREES[@]} -eq 0 ] && TREES=("$HERE")
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 2; }
APP=$HERE/bench/was/counter-app.js
WORK=$(mktemp -d /tmp/nodecat-write-cpu-XXXXXX)
PIDS=()
cleanup () { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cpu () { awk '{print $14+$15}' "/proc/$1/stat"; }
ready () { for _ in $(seq 1 150); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/_nodecat/ready")" = 200 ] && return 0; sleep 0.2; done; return 1; }

run_once () { # TREE -> prints "reqs rps cpu_us_per_req p50 p99"
  local tree=$1 cli=$1/packages/was-node/dist/cli.js key a b lua
  key=$(cd "$tree/packages/was-node" && node -e "import('@nodecat/tribes').then((m) => console.log(m.generateKey()))")
  node "$cli" --jvm-route a --http 127.0.0.1:18301 --app "$APP" --static 127.0.0.1:14301,127.0.0.1:14302 --receiver 127.0.0.1:14301 --key "$key" --log-level warn >"$WORK/a.log" 2>&1 & a=$!; PIDS+=("$a")
  node "$cli" --jvm-route b --http 127.0.0.1:18302 --app "$APP" --static 127.0.0.1:14301,127.0.0.1:14302 --receiver 127.0.0.1:14302 --key "$key" --log-level warn >"$WORK/b.log" 2>&1 & b=$!; PIDS+=("$b")
  ready 18301 && ready 18302 || { echo "nodes did not get ready: $(tail -3 "$WORK/a.log")" >&2; exit 1; }
  lua=$WORK/w.lua; echo 'local cookies = {' >"$lua"
  for _ in $(seq 1 16); do
    echo "  \"$(curl -s -D - -o /dev/null http://127.0.0.1:18301/count | grep -i '^set-cookie' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')\"," >>"$lua"
  done
  printf '}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "/count", { ["Cookie"] = cookies[(n %% #cookies) + 1] })\nend\n' >>"$lua"
  wrk -t1 -c16 -d2s -s "$lua" http://127.0.0.1:18301/ >/dev/null # warm-up, not counted
  local c0 c1 out reqs
  c0=$(( $(cpu "$a") + $(cpu "$b") ))
  out=$(wrk -t1 -c16 -d"${SECS}s" --latency -s "$lua" http://127.0.0.1:18301/)
  c1=$(( $(cpu "$a") + $(cpu "$b") ))
  kill -TERM "$a" "$b"; wait "$a" "$b" 2>/dev/null || true
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$reqs $(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $reqs" | bc -l | xargs printf '%.0f') $(echo "$out" | awk '$1 == "50%" {print $2}') $(echo "$out" | awk '$1 == "99%" {print $2}')"
}

echo "# CPU per session-writing request over loopback (counter, 16 sessions, delta, async, key)"
echo
echo "Command: \`bash bench/scripts/write-cpu-loopback.sh --reps $REPS --seconds $SECS ${TREES[*]}\`  "
echo "Date: $(date -u +%FT%TZ)  "
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, Node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "| tree | rep | requests | req/s | CPU µs/req (both nodes) | p50 | p99 |"
echo "|---|---|---|---|---|---|---|"
for rep in $(seq 1 "$REPS"); do
  for tree in "${TREES[@]}"; do
    rev=$(git -C "$tree" log -1 --format=%h 2>/dev/null || echo "?")
    read -r reqs rps us p50 p99 < <(run_once "$tree")
    echo "| $rev | $rep | $reqs | $rps | $us | $p50 | $p99 |"
  done
done
