#!/bin/bash
# Instructions per steady-state SVI step of one sviserve-bench row, from two callgrind runs of
# S1 and S2 timed steps (compile and warm-up cancel in the difference):
#   bench/callgrind-rows.sh BINARY ROW S1 S2
# BINARY should be a stripped copy of .build/release/sviserve-bench (`strip -o`): valgrind
# refuses the unstripped binary's debug information.
set -euo pipefail
bin=$1; row=$2; s1=$3; s2=$4
ir() {
  SVISERVE_BENCH_ONLY=$row SVISERVE_BENCH_STEPS=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" /dev/null 1 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(ir "$s1"); b=$(ir "$s2")
echo "$row $(( (b - a) / (s2 - s1) ))"
