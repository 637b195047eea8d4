#!/usr/bin/env python3
"""Tables and charts of one `make bench` run, from its JSON.

    tools/bench-report.py BENCH.json [--out DIR] [--readme README.md]

BENCH.json is what `make bench` writes (vm/run.py --bench-json): the run's
context ("run": date, QEMU, accelerator, host CPU; "meta": wdbench's view
of the guest: kernel release, CPU, rounds) and one record per measure with
the raw value of each round for both sides, the per-round ratios, their
median and min-max spread, the goal and the verdict.

Writes DIR/report.md (every table) and, when gnuplot is installed, the
charts DIR/roundtrip-batch.png, DIR/migrate.png, DIR/devmem.png and
DIR/goals.png (every ratio with a lower-bound goal, over that goal). With
--readme, rewrites the marked sections of that file:

    <!-- bench-report:NAME begin ... -->
    ...generated...
    <!-- bench-report:NAME end -->

NAME "all" is the whole report (context, goals, every table, charts); a
scenario name (roundtrip, copy, deflate, mmu, devmem, migrate, vcrypto,
gzip) is that scenario's table. The README is left alone when the run is not
complete (a scenario failed, or only some ran). Python 3 standard library
only; gnuplot (Debian: gnuplot-nox) for the charts.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SCENARIOS = ["roundtrip", "copy", "deflate", "mmu", "devmem", "migrate",
             "vcrypto", "gzip"]
ABOUT = {
    "roundtrip": "small commands through the mapped rings without system "
                 "calls (polled), against one system call per command "
                 "(submit, kick, poll, reap); the batch rows keep 1-32 "
                 "commands in flight, each batch submitted in one call",
    "copy": "COPY through the queue and the device MMU against memcpy() "
            "of the same buffers (the engine is the CPU)",
    "deflate": "gzip DEFLATE/INFLATE on the device against user-space "
               "zlib on the same text",
    "mmu": "shared virtual addressing (SVA) against pinned shares; device "
           "faults; COPY while the source is dropped 1000 times a second",
    "devmem": "making device memory accessible (map and write every page "
              "once) by each path, against one fault per page and against "
              "anonymous memory; \"reserved\" rows on memory taken with "
              "fallocate() first (the cost of mapping alone)",
    "migrate": "migration of 4 KiB-page ranges to device-private memory "
               "and back, against the kernel's test_hmm driver (same guest, "
               "same ioctls) and memcpy() of the same size",
    "vcrypto": "AES-128-CBC requests on the wd_vcrypto device (polled "
               "rings, 16 commands in flight, interrupt completions) "
               "against AF_ALG on the kernel's virtio_crypto device and "
               "AF_ALG software AES",
    "gzip": "wdzip -p N against pigz -p N (N: the guest's CPUs), GNU gzip "
            "and libdeflate-gzip, as programs on the same text file, "
            "compression and decompression (of GNU gzip's output) at "
            "levels 1 and 6",
}
CHARTS = [
    ("roundtrip-batch.png", "commands per second against batch size "
     "(roundtrip, polled; dashed: one system call per command)"),
    ("migrate.png", "migration throughput against size: WarpDrive, "
     "test_hmm, memcpy"),
    ("devmem.png", "device memory paths against one fault per page and "
     "against anonymous MAP_POPULATE"),
    ("goals.png", "every ratio that has a lower bound for goal, over its "
     "goal (green: met, orange: unstable, red: not met)"),
]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000 or v == int(v):
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def label(rec):
    return " ".join(rec["measure"].split()).replace(" | ", " vs ").replace("|", "/")


def ratio_cell(rec):
    if rec["kind"] != "ratio":
        return ""
    return "%.2fx" % rec["median"]


def spread_cell(rec):
    if rec["min"] is None:
        return ""
    if rec["kind"] == "ratio":
        return "%.2f-%.2f" % (rec["min"], rec["max"])
    if rec["min"] == rec["max"]:
        return "%s (all rounds)" % fmt(rec["min"])
    return "%s-%s" % (fmt(rec["min"]), fmt(rec["max"]))


def verdict_cell(rec):
    v = rec.get("verdict", "none")
    return {"pass": "pass", "fail": "**fail**",
            "unstable": "*unstable*"}.get(v, "")


def table(records, scenario):
    rows = [r for r in records if r["scenario"] == scenario]
    if not rows:
        return None
    out = ["| measure | WarpDrive | baseline | ratio | spread (min-max) "
           "| goal | verdict |",
           "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        unit = r.get("unit") or ""
        a = "%s %s" % (fmt(r["median_a"]), unit)
        b = "%s %s" % (fmt(r["median_b"]), unit) if r.get("b") else ""
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            label(r), a.strip(), b.strip(), ratio_cell(r), spread_cell(r),
            (r.get("goal_text") or "").replace("|", "/"), verdict_cell(r)))
    return "\n".join(out)


def context(doc, json_path):
    run, meta = doc.get("run", {}), doc.get("meta", {})
    load = run.get("host_loadavg_before")
    bits = [
        "One `%s` run, %s UTC" % (run.get("command", "make bench"),
                                  (run.get("date") or "?").replace("T", " ")
                                  .rstrip("Z")),
        "guest kernel %s (%s vCPUs, %s)" % (meta.get("kernel", "?"),
                                            meta.get("cpus", "?"),
                                            meta.get("cpu", "?")),
        "%s, accelerator %s" % (run.get("qemu", "QEMU ?"),
                                run.get("accel", "?")),
        "host %s, %s CPUs%s" % (run.get("host_cpu", "?"),
                                run.get("host_cpus", "?"),
                                ", load average %.1f at the start" % load[0]
                                if load else ""),
        "commit %s" % run.get("commit", "?"),
    ]
    secs = run.get("wdbench_seconds")
    text = "; ".join(bits) + "."
    if secs:
        text += (" wdbench ran %.1f minutes (the whole guest run %.1f)."
                 % (secs / 60, run.get("guest_seconds", 0) / 60))
    text += (" Each ratio is WarpDrive over its baseline: the median of %s "
             "or more rounds in which the two sides take turns (the order "
             "alternating round by round), with the min-max spread of the "
             "rounds' ratios. A goal passes only when the whole spread "
             "meets it; a spread that crosses the goal is *unstable*. "
             "Absolute rates depend on the emulator and on what else the "
             "host runs; the ratios are what a run compares. Every round "
             "of both sides is in [%s](%s)."
             % (meta.get("rounds", "?"), json_path, json_path))
    if not run.get("complete"):
        text += " **This run is incomplete** (a scenario failed or only some ran)."
    return text


def goals(records, what="Goals", listing=True):
    with_goal = [r for r in records if r.get("goal")]
    count = {}
    for r in with_goal:
        count[r["verdict"]] = count.get(r["verdict"], 0) + 1
    if not with_goal:
        return ""
    lines = ["%s: %d met, %d unstable (the spread crosses the goal), "
             "%d not met%s" % (what, count.get("pass", 0),
                               count.get("unstable", 0), count.get("fail", 0),
                               ":" if listing and
                               len(with_goal) > count.get("pass", 0)
                               else "."), ""]
    if not listing:
        return lines[0]
    for r in with_goal:
        if r["verdict"] == "pass":
            continue
        fig = (ratio_cell(r) if r["kind"] == "ratio"
               else fmt(r["median"]))
        lines.append("- %s, %s: %s (spread %s), goal %s: %s" % (
            r["scenario"], label(r), fig, spread_cell(r), r["goal_text"],
            verdict_cell(r)))
    return "\n".join(lines)


def report_all(doc, json_path, png_prefix, charts):
    recs = doc.get("records", [])
    parts = [context(doc, json_path), "", goals(recs)]
    for name, what in CHARTS:
        if name in charts:
            parts += ["", "![%s](%s%s)" % (what, png_prefix, name)]
    for s in SCENARIOS:
        t = table(recs, s)
        if t:
            parts += ["", "**%s**: %s." % (s, ABOUT[s]), "", t]
    return "\n".join(parts)


# Charts

def params(rec):
    return rec.get("params") or {}


def rng(vals):
    v = [x for x in vals if x is not None]
    return (min(v), max(v)) if v else (0, 0)


def median(vals):
    v = sorted(x for x in vals if x is not None)
    if not v:
        return 0
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def gnuplot(script, workdir):
    exe = shutil.which("gnuplot")
    if not exe:
        return False
    r = subprocess.run([exe], input=script, universal_newlines=True,
                       cwd=workdir, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode:
        sys.stderr.write("bench-report: gnuplot: %s\n" % r.stderr.strip())
        return False
    return True


def terminal():
    out = subprocess.run(["gnuplot", "-e", "set terminal"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True).stdout
    if "pngcairo" in out:
        return "pngcairo noenhanced font 'sans,10'"
    return "png noenhanced"


def chart_roundtrip(recs, work, png, term):
    rows, sys_rate = {}, {}
    for r in recs:
        p = params(r)
        if r["scenario"] != "roundtrip" or p.get("sweep") != "batch":
            continue
        lo, hi = rng(r["a"])
        rows.setdefault(p["op"], []).append((p["batch"], r["median_a"], lo, hi))
        sys_rate[p["op"]] = r["median_b"]
    if not rows:
        return False
    plots = []
    for i, op in enumerate(sorted(rows)):
        f = "rt-%s.dat" % op
        with open(os.path.join(work, f), "w") as fh:
            for b, m, lo, hi in sorted(rows[op]):
                fh.write("%d %g %g %g\n" % (b, m, lo, hi))
        plots.append("'%s' using 1:2:3:4 with yerrorlines lc %d pt 7 "
                     "title '%s polled'" % (f, i + 1, op))
        plots.append("%g with lines dt 2 lc %d title '%s, one syscall per "
                     "command'" % (sys_rate[op], i + 1, op))
    script = """set terminal %s size 800,480
set output '%s'
set title 'Commands per second against batch size (median, min-max of the rounds)'
set xlabel 'batch size: commands in flight, submitted in one call'
set ylabel 'commands/s'
set logscale x 2
set logscale y
set key top left
set grid
plot %s
""" % (term, png, ", ".join(plots))
    return gnuplot(script, work)


def chart_migrate(recs, work, png, term):
    # (direction, size) -> {"WarpDrive": (m, lo, hi), "test_hmm": ..., "memcpy": ...}
    pts = {}
    for r in recs:
        p = params(r)
        if r["scenario"] != "migrate" or r.get("side") != "WD_IOC_MIGRATE":
            continue
        key = (p["direction"], p["size"])
        d = pts.setdefault(key, {})
        d["WarpDrive"] = (r["median_a"],) + rng(r["a"])
        d[r["baseline"]] = (r["median_b"],) + rng(r["b"])
    if not pts:
        return False
    series = ["WarpDrive", "test_hmm", "memcpy"]
    panels = []
    for direction in ("to device", "to system"):
        plots = []
        for i, s in enumerate(series):
            f = "mig-%s-%s.dat" % (direction.replace(" ", "_"), s)
            n = 0
            with open(os.path.join(work, f), "w") as fh:
                for (d, size), v in sorted(pts.items()):
                    if d == direction and s in v:
                        fh.write("%g %g %g %g\n" % ((size / 1024.0,) + v[s]))
                        n += 1
            if n:
                plots.append("'%s' using 1:2:3:4 with yerrorlines lc %d pt 7 "
                             "title '%s'" % (f, i + 1, s))
        panels.append("""set title 'Migration %s (median, min-max of the rounds)'
plot %s
""" % (direction, ", ".join(plots)))
    script = """set terminal %s size 1000,420
set output '%s'
set multiplot layout 1,2
set xlabel 'range (KiB of 4 KiB pages)'
set ylabel 'MiB/s'
set logscale x 2
set key top left
set grid
%s
unset multiplot
""" % (term, png, "".join(panels))
    return gnuplot(script, work)


def chart_devmem(recs, work, png, term):
    base = {"fresh": [], "reserved": []}
    anon = []
    order = []
    for r in recs:
        p = params(r)
        if r["scenario"] != "devmem" or r["kind"] != "ratio":
            continue
        path, mem = p.get("path"), p.get("memory")
        bl = r.get("baseline") or ""
        if mem in base and bl in ("1 fault/page", "1/page"):
            base[mem].append((path, r["median"], r["min"], r["max"]))
            if path not in order:
                order.append(path)
        elif mem == "fresh" and bl == "anon MAP_POP":
            anon.append((path, r["median"], r["min"], r["max"]))
    if not order:
        return False

    def write(name, rows, paths):
        d = dict((p, (m, lo, hi)) for p, m, lo, hi in rows)
        with open(os.path.join(work, name), "w") as fh:
            for i, p in enumerate(paths):
                m, lo, hi = d.get(p, (float("nan"),) * 3)
                fh.write("%d \"%s\" %g %g %g\n" % (i, p, m, lo, hi))

    write("dm-fresh.dat", base["fresh"], order)
    write("dm-reserved.dat", base["reserved"], order)
    apaths = [p for p, *_ in anon]
    write("dm-anon.dat", anon, apaths)
    script = """set terminal %s size 1000,440
set output '%s'
set multiplot layout 1,2
set style fill solid 0.6 border -1
set boxwidth 0.35
set grid ytics
set key top left
set yrange [0:*]
set xtics rotate by -30
set title 'Device memory paths against one fault per page'
set ylabel 'ratio (median, min-max of the rounds)'
plot 'dm-fresh.dat' using ($1-0.18):3:xtic(2) with boxes lc 1 title 'fresh memory', \\
     '' using ($1-0.18):3:4:5 with yerrorbars lc black pt 0 notitle, \\
     'dm-reserved.dat' using ($1+0.18):3 with boxes lc 2 title 'reserved (mapping alone)', \\
     '' using ($1+0.18):3:4:5 with yerrorbars lc black pt 0 notitle, \\
     4 with lines dt 2 lc rgb 'red' title 'goal 4x'
set title 'Device memory paths against anonymous MAP_POPULATE (4 KiB pages)'
set boxwidth 0.5
plot 'dm-anon.dat' using 1:3:xtic(2) with boxes lc 3 title 'fresh memory', \\
     '' using 1:3:4:5 with yerrorbars lc black pt 0 notitle, \\
     1 with lines dt 2 lc rgb 'red' title 'goal 1x'
unset multiplot
""" % (term, png)
    return gnuplot(script, work)


def chart_goals(recs, work, png, term):
    rows = []
    for r in recs:
        g = r.get("goal") or {}
        if r["kind"] != "ratio" or g.get("op") not in (">=", ">"):
            continue
        v = g.get("value")
        if not v or r["min"] is None:
            continue
        rows.append(("%s: %s" % (r["scenario"], label(r)), r["median"] / v,
                     max(r["min"] / v, 1e-3), r["max"] / v, r["verdict"]))
    if not rows:
        return False
    colour = {"pass": 2, "unstable": 4, "fail": 7}
    with open(os.path.join(work, "goals.dat"), "w") as fh:
        for i, (name, m, lo, hi, v) in enumerate(reversed(rows)):
            fh.write("%d %g %g %g %d \"%s\"\n" % (
                i, max(m, 1e-3), lo, hi, colour.get(v, 0),
                name.replace('"', "'")))
    script = """set terminal %s size 1000,%d
set output '%s'
set title 'Each ratio over its goal (median, min-max of the rounds): right of 1 meets it'
set logscale x
set xrange [0.01:100]
set yrange [-1:%d]
set grid xtics
set key off
set ytics font ',8'
set xlabel 'ratio / goal'
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb 'red'
plot 'goals.dat' using 2:1:3:4:5:ytic(6) with xerrorbars pt 7 lc variable
""" % (term, 120 + 16 * len(rows), png, len(rows))
    return gnuplot(script, work)


def draw(recs, out):
    if not shutil.which("gnuplot"):
        sys.stderr.write("bench-report: no gnuplot (vm/deps.sh installs "
                         "gnuplot-nox): no charts\n")
        return []
    term = terminal()
    made = []
    with tempfile.TemporaryDirectory() as work:
        for name, fn in (("roundtrip-batch.png", chart_roundtrip),
                         ("migrate.png", chart_migrate),
                         ("devmem.png", chart_devmem),
                         ("goals.png", chart_goals)):
            png = os.path.abspath(os.path.join(out, name))
            if fn(recs, work, png, term):
                made.append(name)
    return made


MARK = re.compile(r"(<!-- bench-report:(\w+) begin[^>]*-->\n)(.*?)"
                  r"(<!-- bench-report:\2 end -->)", re.S)


def rewrite_readme(path, doc, json_rel, png_prefix, charts):
    with open(path) as f:
        text = f.read()
    recs = doc.get("records", [])
    missing = []

    def sub(m):
        name = m.group(2)
        if name == "all":
            body = report_all(doc, json_rel, png_prefix, charts)
        else:
            body = table(recs, name)
            if body is None:
                missing.append(name)
                return m.group(0)
            run = doc.get("run", {})
            body = ("Generated from the `make bench` run of %s UTC "
                    "(kernel %s; see [Benchmarks](#benchmarks)):\n\n%s"
                    % ((run.get("date") or "?").replace("T", " ").rstrip("Z"),
                       doc.get("meta", {}).get("kernel", "?"), body))
            g = goals([r for r in recs if r["scenario"] == name],
                      "Goals of this scenario in that run", listing=False)
            if g:
                body += "\n\n" + g
        return m.group(1) + body + "\n" + m.group(4)

    new, n = MARK.subn(sub, text)
    if not n:
        sys.stderr.write("bench-report: no <!-- bench-report:NAME begin --> "
                         "marker in %s\n" % path)
        return False
    for name in missing:
        sys.stderr.write("bench-report: no records of %s: its section kept\n"
                         % name)
    if new != text:
        with open(path + ".tmp", "w") as f:
            f.write(new)
        os.replace(path + ".tmp", path)
    print("bench-report: %d section(s) of %s rewritten" % (n, path))
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", help="the run's JSON (make bench --bench-json)")
    ap.add_argument("--out", help="directory of report.md and the charts "
                    "(default: the JSON's)")
    ap.add_argument("--readme", help="rewrite the marked sections of this file")
    args = ap.parse_args()

    with open(args.json) as f:
        doc = json.load(f)
    out = args.out or os.path.dirname(os.path.abspath(args.json))
    os.makedirs(out, exist_ok=True)
    recs = doc.get("records", [])
    charts = draw(recs, out)

    md = os.path.join(out, "report.md")
    with open(md, "w") as f:
        f.write("# wdbench report\n\n%s\n" % report_all(
            doc, os.path.basename(args.json), "", charts))
    print("bench-report: %d records; %s%s" % (
        len(recs), md, "".join(", " + os.path.join(out, c) for c in charts)))

    if args.readme:
        run = doc.get("run", {})
        if not run.get("complete") or run.get("bench_args", "").strip():
            print("bench-report: the run is not a complete full run: "
                  "%s left alone" % args.readme)
            return 0
        base = os.path.dirname(os.path.abspath(args.readme))
        json_rel = os.path.relpath(os.path.abspath(args.json), base)
        png_prefix = os.path.relpath(os.path.abspath(out), base) + "/"
        if not rewrite_readme(args.readme, doc, json_rel, png_prefix, charts):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
