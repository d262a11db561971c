"""Runs a reference script with time.perf_counter replaced by time.process_time, so its rates
are steps per CPU second of the (pinned) process, comparable with sviserve-bench's
cpu_steps_per_s on a machine that other work shares."""
import runpy, sys, time
time.perf_counter = time.process_time
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
