#!/bin/bash
# Instructions per step of a job's whole training loop as `sviserve run` drives it (SVIRunner
# through JobRun: stop signal, per-step checks, trace, final-ELBO window, reports), from two
# callgrind runs of S1 and S2 steps (compiling, summaries and output cancel in the difference):
#   bench/callgrind-loop.sh BINARY SPEC S1 S2
# BINARY should be a stripped copy of .build/release/sviserve (`strip -o`), as for
# callgrind-rows.sh. Compare with callgrind-rows.sh's figure for the same model to see what the
# loop adds to `SVI.step`.
set -euo pipefail
bin=$1; spec=$2; s1=$3; s2=$4
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" run "$spec" --steps "$1" --quiet 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(ir "$s1"); b=$(ir "$s2")
echo "$spec $(( (b - a) / (s2 - s1) ))"
