#!/bin/bash
# Reproduces every figure of docs/BENCHMARKS.md "Routing" (about 45 minutes on 2 cores).
# Env: CARGO_TARGET_DIR (where vrp-bench is built), YIFEI_BENCH_VENV (reuse a venv),
# YIFEI_SHARED (benchmarks/ and tools/, default ../shared next to the checkout).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
R=${1:-routing/bench/results}
mkdir -p "$R"
C=routing/bench/compare
date -u +"start %FT%TZ" > "$R/timeline.txt"
$C --set solomon --time-limit-ms 10000 --out "$R" > "$R/solomon-10s.log" 2>&1
date -u +"solomon done %FT%TZ" >> "$R/timeline.txt"
$C --set cvrp-a --time-limit-ms 10000 --out "$R" > "$R/cvrp-a-10s.log" 2>&1
date -u +"cvrp-a done %FT%TZ" >> "$R/timeline.txt"
$C --set scale --sizes 500,1000,2000,5000 --solvers ours,pyvrp --time-limit-ms 30000 --out "$R" > "$R/scale-30s.log" 2>&1
date -u +"scale done %FT%TZ" >> "$R/timeline.txt"
# Generated days with the lunch break (two windows per stop): our solver only.
B=$CARGO_TARGET_DIR/release/vrp-bench
for n in 500 1000 2000 5000; do
  /usr/bin/time -v "$B" --generate $n --seed 1 --time-limit-ms 30000 > "$R/lunch-$n.json" 2> "$R/lunch-$n.time"
done
date -u +"lunch done %FT%TZ" >> "$R/timeline.txt"
$C --set homberger --time-limit-ms 10000 --solvers ours,pyvrp --out "$R" > "$R/homberger-10s.log" 2>&1
date -u +"homberger done %FT%TZ" >> "$R/timeline.txt"
