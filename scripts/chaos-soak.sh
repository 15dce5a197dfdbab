#!/usr/bin/env bash
# pnpm soak:chaos [RUNS] [SECONDS]: the compound-fault chaos tests (test/chaos-restart*.test.ts)
# run longer and more often than in the test command: RUNS runs of SECONDS seconds of load each,
# with static membership on 127.0.0.1 and (as root) with multicast in network namespaces.
# Defaults: 20 runs of 30 s. Every run is bounded in time and requests and stops by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
seconds=${2:-30}
case "$runs$seconds" in *[!0-9]*) echo "usage: pnpm soak:chaos [RUNS] [SECONDS]" >&2; exit 2;; esac
npx tsc -b || exit 1
budget=$(( runs * (seconds + 60) + 120 ))
NODECAT_CHAOS_RUNS=$runs NODECAT_CHAOS_NETNS_RUNS=$runs NODECAT_CHAOS_MS=$(( seconds * 1000 )) \
  npx tap --reporter=tap --jobs=1 --timeout="$budget" test/chaos-restart.test.ts test/chaos-restart-netns.test.ts 2>&1 \
  | grep -E '^\s*(not )?ok [0-9]+ - (chaos run|[a-z])|^\s*# [0-9]+ kills|^# \{'
