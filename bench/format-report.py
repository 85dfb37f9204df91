#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host side of bench/format-bench.sh: one CSV row per round, and the summary of a run.

  format-report.py header
  format-report.py round VARIANT ROUND LOAD BUNDLE_BYTES MARK CMD_START CMD_END SECTORS0 SECTORS1 JOURNAL
      prints one CSV row: LOAD the host's load average (1 min) after the round; MARK,
      CMD_START, CMD_END the guest's uptime before the round's command and around it;
      SECTORS0/1 the stick's sectors read (512 bytes) before and after the command; JOURNAL
      `journalctl -o json` of the engine's events (bench-report.py's EVENTS), of which those
      of mediaupdctl after MARK give the phase times (PHASES; none for the hand-run
      pipeline).
  format-report.py summary CSV
      the tables of docs/performance.md ("Format v2"), as Markdown.

All times are seconds on the guest's monotonic clock.
"""
import csv
import importlib.util
import json
import os
import statistics
import sys

# The engine's event names and the table cells are those of the daemon benchmark's report.
_spec = importlib.util.spec_from_file_location(
    "bench_report", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-report.py"))
bench_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_report)
EVENTS = bench_report.EVENTS
cell = bench_report.cell

HEADER = ["variant", "round", "host_load", "bundle_bytes", "cmd_start", "cmd_end", "command",
          "read_bytes", "read_ratio", "unlock", "verify_apply", "deploy"]
# The phases, the same for both formats: the engine's first event -> unlocked (format 2: the
# signed header verified and the policy checked before the key trials, then dm-verity and
# dm-crypt set up); unlocked -> applied (the delta's envelope verified, the checks, libostree's
# apply); applied -> deployed. (Format 2 logs a signature-verified event for its header before
# it unlocks, and one for the delta after, so "verified" is no boundary common to both.)
PHASES = {"unlock": ("install_start", "unlocked"), "verify_apply": ("unlocked", "applied"),
          "deploy": ("applied", "deployed")}
GOAL_TIME = 1.10
GOAL_READ = 1.02


def round_row(args):
    (variant, n, load, size, mark, start, end, s0, s1, journal) = args
    mark, start, end = float(mark), float(start), float(end)
    size = int(size)
    read = (int(s1) - int(s0)) * 512
    t = {}
    with open(journal, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            name = EVENTS.get(e.get("MESSAGE_ID"))
            when = int(e["__MONOTONIC_TIMESTAMP"]) / 1e6
            if name and e.get("_COMM") == "mediaupdctl" and when > mark and name not in t:
                t[name] = when
    phases = {}
    if not variant.startswith("manual-"):
        missing = [x for x in ("install_start", "unlocked", "applied", "deployed") if x not in t]
        if missing:
            sys.exit(f"format-report.py: round {n} ({variant}): no {', '.join(missing)} "
                     "event of mediaupdctl after the mark")
        phases = {p: t[b] - t[a] for p, (a, b) in PHASES.items()}
    row = {"variant": variant, "round": n, "host_load": load, "bundle_bytes": size,
           "cmd_start": f"{start:.2f}", "cmd_end": f"{end:.2f}",
           "command": f"{end - start:.2f}", "read_bytes": read,
           "read_ratio": f"{read / size:.4f}"}
    row.update({k: f"{v:.2f}" for k, v in phases.items()})
    w = csv.DictWriter(sys.stdout, HEADER, lineterminator="\n")
    w.writerow(row)


def summary(path):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    col = lambda rs, name: [float(r[name]) for r in rs if r.get(name, "") != ""]
    of = lambda v: [r for r in rows if r["variant"] == v]
    out = ["### Install time and bytes read from the stick\n",
           "Medians, (min–max, rounds); the command from its start to its exit.\n",
           "| variant | bundle bytes | command s | read from the stick / bundle size "
           "| start → unlocked | → applied (verify, check, apply) | → deployed | host load |",
           "|---|---|---|---|---|---|---|---|"]
    for v in variants:
        rs = of(v)
        ratio = col(rs, "read_ratio")
        phases = " | ".join(f"{statistics.median(col(rs, p)):.2f}" if col(rs, p) else "—"
                            for p in PHASES)
        loads = col(rs, "host_load")
        out.append(f"| {v} | {rs[0]['bundle_bytes']} | {cell(col(rs, 'command'))} "
                   f"| {statistics.median(ratio):.4f} ({min(ratio):.4f}–{max(ratio):.4f}) "
                   f"| {phases} | {min(loads):.1f}–{max(loads):.1f} |")
    out.append("")
    out.append("### Ratios to format 1\n")
    out.append("Of the medians, and of each round to the v1 round of the same pass (the "
               "variants alternate, so a pass ran under about the same load).\n")
    out.append("| variant / v1 | ratio of the medians | per pass: median (min–max, passes) "
               f"| goal | read ratio ≤ {GOAL_READ} |")
    out.append("|---|---|---|---|---|")
    base = of("v1")
    if base:
        b_med = statistics.median(col(base, "command"))
        n_variants = len(variants)
        for v in variants:
            if v == "v1":
                continue
            rs = of(v)
            med = statistics.median(col(rs, "command"))
            # the pass of a round: its position in the run, whole variant cycles
            by_pass = {(int(r["round"]) - 1) // n_variants: float(r["command"]) for r in rs}
            b_pass = {(int(r["round"]) - 1) // n_variants: float(r["command"]) for r in base}
            pairs = [by_pass[p] / b_pass[p] for p in by_pass if p in b_pass]
            goal = (f"≤ {GOAL_TIME:.2f}: {'met' if med / b_med <= GOAL_TIME else 'missed'}"
                    if v in ("v2", "adiantum") else "(reference)")
            read = statistics.median(col(rs, "read_ratio"))
            read_goal = (f"{read:.4f}: {'met' if read <= GOAL_READ else 'missed'}"
                         if v in ("v2", "adiantum") else f"{read:.4f}")
            out.append(f"| {v} | **{med / b_med:.3f}** | {cell(pairs)} | {goal} | {read_goal} |")
    print("\n".join(out))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "header":
        print(",".join(HEADER))
    elif len(sys.argv) == 12 and sys.argv[1] == "round":
        round_row(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
