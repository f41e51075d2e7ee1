#!/bin/bash
# Idle A/B of two built checkouts under the 75k ingest load, alternating A B / B A / A B / B A, then full rate
# B then A (the order of bench/ingest/decisions.md's lead re-runs). Each run prints its JSON tail.
#   bash bench/ingest/ab-pairs.sh A_ROOT B_ROOT > ab.log
# A_ROOT and B_ROOT are built checkouts (npx tsc -b); run it on an idle machine.
set -u
if [ $# -ne 2 ] || [ ! -f "$1/cli/dist/src/main.js" ] || [ ! -f "$2/cli/dist/src/main.js" ]; then
  echo "usage: bash bench/ingest/ab-pairs.sh A_ROOT B_ROOT (two built checkouts: each needs cli/dist/src/main.js)" >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
run() { # label root [extra flags]
  echo "=== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  npx tsx bench/ingest/run.ts --duration 20 --warmup 5 --concurrency 32 --peer victoria-metrics --sloth-root "$2" "${@:3}" 2>&1 | tail -25
  sleep 10
}
for pair in AB BA AB BA; do
  for x in ${pair:0:1} ${pair:1:1}; do
    if [ "$x" = A ]; then run A "$1" --rate 75000 --server-timing; else run B "$2" --rate 75000 --server-timing; fi
  done
done
run "FULL B" "$2"
run "FULL A" "$1"
echo DONE
