#!/usr/bin/env python3
"""Prints docs/transport.md's variance-reduction table from a result of docs/transport_vr.json:

    swift run -c release sviserve run docs/transport_vr.json --json --quiet | python3 docs/transport_vr_table.py
"""
import json
import sys

result = json.load(sys.stdin)
rows = {}
for e in result["transport"]["estimates"]:
    f, ref = e["name"].rsplit("_", 1)
    rows.setdefault(f, {})[ref] = e
refs = [r["name"] for r in result["transport"]["references"]]
w2 = {r["name"]: r["w2"] for r in result["transport"]["references"]}
print("| f | " + " | ".join(f"{r} (W₂ {w2[r]:.2f})" for r in refs) + " |")
print("|---|" + "---|" * len(refs))
for f, by in rows.items():
    f_text = by[refs[0]]["f"]
    cells = [f"{by[r]['variance_reduction']:.1f}× (Δ {by[r]['difference']:.4f} ± {by[r]['se']:.4f})" for r in refs]
    print(f"| `{f_text}` | " + " | ".join(cells) + " |")
