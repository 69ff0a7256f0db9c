#!/usr/bin/env python3
"""Write BENCHMARKS.md (stdout) from the JSON results of benches/e2e.sh.

usage: render.py --results DIR --repo REPO --command "benches/e2e.sh …" --bin LPMHSS [--scale FILE]…
benches/e2e/NOTES.md, if present, is appended verbatim (profiling findings and remarks that
must survive a re-run); each --scale FILE (the scale.md that benches/scale.sh writes) is added
to the scaling section.
"""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

TARGET_SERVE_RATIO = 0.50
TARGET_INGEST = 150_000
TARGET_REPORT_S = 5.0
TARGET_REPORT_AT = 10_000_000
TARGET_DUCKDB_RATIO = 1.0
TARGET_COMPUTE_S = 2.0


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(repo):
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        import duckdb
        duck = duckdb.__version__
    except ImportError:
        duck = "?"
    commit = sh("git", "-C", repo, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", repo, "status", "--porcelain", "--", "src", "sql", "Cargo.toml", "Cargo.lock")
    lock = ""
    try:
        with open(os.path.join(repo, "Cargo.lock"), encoding="utf-8") as f:
            text = f.read()
        i = text.find('name = "rdkafka-sys"')
        if i >= 0:
            lock = text[i:].split("\n")[1].split('"')[1]
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "rustc": sh("rustc", "--version"),
        "commit": commit + (" (with uncommitted changes in src/, sql/ or Cargo.*)" if dirty else ""),
        "tansu": sh("tansu", "--version") or "?",
        "duckdb": duck,
        "rdkafka_sys": lock or "?",
        "python": platform.python_version(),
    }


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_n(n):
    if n is None:
        return "—"
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def rate(v):
    return "—" if v is None else f"{v:,.0f}/s"


def secs(v):
    return "—" if v is None else (f"{v:.2f} s" if v < 100 else f"{v:.0f} s")


def mib(kb):
    return "—" if kb is None else f"{kb / 1024:,.0f} MiB"


def pct(v):
    return "—" if v is None else f"{100 * v:.0f} %"


# Issue 7: "peak RSS under 1 GiB at any backlog".
TARGET_RSS_KB = 1024 * 1024


def verdict(ok):
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def size_results(d):
    n = load(os.path.join(d, "params.json"))["n"]
    r = {"n": n, "params": load(os.path.join(d, "params.json"))}
    raws = [load(p) for p in sorted(glob.glob(os.path.join(d, "raw-*.out")))]
    raws = [x for x in raws if x]
    r["raw_runs"] = raws
    r["raw"] = max((x["messages_per_sec"] for x in raws), default=None)
    r["raw_mb"] = max((x["mb_per_sec"] for x in raws), default=None)
    r["serve"] = load(os.path.join(d, "serve.json")) or {}
    r["ingest"] = load(os.path.join(d, "ingest.json"))
    r["produce"] = load(os.path.join(d, "produce.json"))
    r["generate"] = load(os.path.join(d, "generate.json"))
    r["broker"] = load(os.path.join(d, "broker.json")) or {}
    r["feed"] = load(os.path.join(d, "feed.json")) or {}
    r["data_size"] = load(os.path.join(d, "serve-data-size.json")) or {}
    rep = [load(p) for p in sorted(glob.glob(os.path.join(d, "report-lpmhss-*.json")))]
    duck = [load(p) for p in sorted(glob.glob(os.path.join(d, "report-duckdb-*.json")))]
    r["report_runs"] = [x["seconds"] for x in rep if x]
    r["duck_runs"] = [x["seconds"] for x in duck if x]
    r["report"] = med(r["report_runs"])
    r["duck"] = med(r["duck_runs"])
    r["report_rss"] = max((x["max_rss_kb"] for x in rep if x), default=None)
    r["duck_rss"] = max((x["max_rss_kb"] for x in duck if x), default=None)
    r["compare"] = load(os.path.join(d, "compare.json"))
    r["compare_file"] = load(os.path.join(d, "compare-file.json"))
    cur = [load(p) for p in sorted(glob.glob(os.path.join(d, "report-current-*.json")))]
    r["current_runs"] = [x["seconds"] for x in cur if x]
    r["current"] = med(r["current_runs"])
    r["current_rss"] = max((x["max_rss_kb"] for x in cur if x), default=None)
    r["compare_current"] = load(os.path.join(d, "compare-current.json"))
    return r


def main():
    a = {}
    scale_tables = []
    argv = sys.argv[1:]
    while argv:
        k = argv.pop(0)
        if k == "--scale":
            scale_tables.append(argv.pop(0))
        else:
            a[k] = argv.pop(0)
    results, repo = a["--results"], a["--repo"]
    m = machine(repo)
    sizes = []
    for d in glob.glob(os.path.join(results, "*")):
        if os.path.basename(d).isdigit() and os.path.exists(os.path.join(d, "params.json")):
            sizes.append(size_results(d))
    sizes.sort(key=lambda r: r["n"])
    comp_dir = os.path.join(results, "compute")
    comp = None
    if os.path.isdir(comp_dir):
        runs = [load(p) for p in sorted(glob.glob(os.path.join(comp_dir, "compute-*.json")))]
        comp = {
            "params": load(os.path.join(comp_dir, "params.json")),
            "ingest": load(os.path.join(comp_dir, "ingest.json")),
            "runs": [x["seconds"] for x in runs if x],
            "rss": max((x["max_rss_kb"] for x in runs if x), default=None),
        }
        comp["median"] = med(comp["runs"])
        fresh = [load(p) for p in sorted(glob.glob(os.path.join(comp_dir, "refresh-*.json")))]
        comp["refresh_runs"] = [x["seconds"] for x in fresh if x]
        comp["refresh"] = med(comp["refresh_runs"])
        comp["refresh_rss"] = max((x["max_rss_kb"] for x in fresh if x), default=None)
        comp["compare_refresh"] = load(os.path.join(comp_dir, "compare-refresh.json"))

    out = []
    w = out.append
    run = load_json(os.path.join(results, "run.json")) or {}
    finished = os.path.join(results, "load.json")
    end = (datetime.datetime.fromtimestamp(os.path.getmtime(finished), datetime.timezone.utc)
           if os.path.exists(finished) else datetime.datetime.now(datetime.timezone.utc))
    now = end.strftime("%Y-%m-%d %H:%M UTC")
    if run.get("started"):
        now = f"{run['started']} to {end.strftime('%H:%M UTC')}"
    if run.get("commit"):
        m["commit"] = run["commit"] + (f" plus uncommitted changes to {run['dirty_files']} files in src/, sql/, Cargo.*"
                                       if run.get("dirty_files") else "")
    w("# Benchmarks\n")
    w("Measured end to end on one machine by the harness `benches/e2e.sh` (GUIDE section 6): every "
      "lpmhss figure sits next to a baseline measured in the same run: the broker's raw consume rate "
      "(a no-op librdkafka consumer, `examples/raw_consume.rs`) and DuckDB running the same SQL "
      "(`sql/*.sql`) over the same Parquet files. Criterion micro-benchmarks of the library API are "
      "in `benches/pipeline.rs` (`cargo bench --bench pipeline`).\n")
    w(f"- **Command:** `{a['--command']}` (from the repository root)")
    w(f"- **Date:** {now}")
    loadavg = load_json(os.path.join(results, "load.json")) or {}
    w(f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}; "
      f"not dedicated: load average {loadavg.get('start', '?')} at the start, {loadavg.get('end', '?')} at the end "
      f"(1/5/15 min); other work on the machine makes figures conservative")
    w(f"- **Toolchain:** {m['rustc']}, release profile (`codegen-units = 4`); lpmhss commit {m['commit']}")
    w(f"- **Baselines:** {m['tansu']} (in-memory storage), rdkafka-sys {m['rdkafka_sys']} (bundled librdkafka), "
      f"DuckDB {m['duckdb']} (Python {m['python']})")
    if sizes:
        p = sizes[0]["params"]
        w(f"- **Feed:** `lpmhss simulate --months {p['months']} --referrals-per-month R --seed {p['seed']} "
          f"--end {p['end']} --limit N`, R chosen so that {p['months']} months give just over N messages "
          "(≈1 % duplicates, 1 % corrections, 0.5 % retractions, 2 % late, 0.5 % invalid)")
    w("")

    w("## Results\n")
    w("| figure | N | lpmhss | baseline | ratio | target | |")
    w("|---|---|---|---|---|---|---|")
    for r in sizes:
        n = fmt_n(r["n"])
        s = r["serve"]
        sr = s.get("events_per_sec")
        ratio = sr / r["raw"] if sr and r["raw"] else None
        w(f"| Kafka catch-up, `serve` (events/s) | {n} | {rate(sr)} | {rate(r['raw'])} raw consume | "
          f"{pct(ratio)} | ≥ 50 % of raw | {verdict(None if ratio is None else ratio >= TARGET_SERVE_RATIO)} |")
    for r in sizes:
        ing = r["ingest"]
        ir = r["n"] / ing["seconds"] if ing and ing.get("rc") == 0 else None
        w(f"| file ingest, `ingest --no-compute` (events/s) | {fmt_n(r['n'])} | {rate(ir)} | — | — | "
          f"≥ 150,000/s | {verdict(None if ir is None else ir >= TARGET_INGEST)} |")
    def report_row(label, r, seconds):
        ratio = seconds / r["duck"] if seconds and r["duck"] else None
        at_target = r["n"] == TARGET_REPORT_AT
        ok = None if ratio is None else (
            ratio <= TARGET_DUCKDB_RATIO and (not at_target or seconds < TARGET_REPORT_S))
        w(f"| {label} (median of 3) | {fmt_n(r['n'])} | {secs(seconds)} | "
          f"{secs(r['duck'])} DuckDB | {'—' if ratio is None else f'{ratio:.2f}×'} | ≤ 1× DuckDB"
          f"{'; < 5 s' if at_target else ''} | {verdict(ok)} |")

    for r in sizes:
        report_row("`report --derivation full` wall time", r, r["report"])
    for r in sizes:
        if r["current_runs"]:
            report_row("`report` from the last computation", r, r["current"])
    if comp:
        cn = comp["params"]["n"] if comp["params"] else None
        w(f"| full recomputation, `compute --derivation full` (median of 3) | {cn:,} (10 years of Wales) | {secs(comp['median'])} | — | — | < 2 s | "
          f"{verdict(None if comp['median'] is None else comp['median'] < TARGET_COMPUTE_S)} |")
        if comp.get("refresh_runs"):
            new = comp["params"].get("new", 0)
            speed = (f"{comp['refresh'] / comp['median']:.2f}×"
                     if comp["median"] and comp["refresh"] else "—")
            w(f"| refresh after {new:,} new events (a day of Wales), `compute` (median of 3) | {cn:,} + {new:,} | "
              f"{secs(comp['refresh'])} | {secs(comp['median'])} full | {speed} | < 2 s | "
              f"{verdict(None if comp['refresh'] is None else comp['refresh'] < TARGET_COMPUTE_S)} |")
    for r in sizes:
        s = r["serve"]
        w(f"| `serve` time to first metric | {fmt_n(r['n'])} | {secs(s.get('first_metric_s'))} | — | — | — | |")
    for r in sizes:
        s = r["serve"]
        w(f"| `serve` time to a metric covering the whole backlog | {fmt_n(r['n'])} | {secs(s.get('fresh_metric_s'))} | — | — | — | |")
    for r in sizes:
        s = r["serve"]
        hwm = s.get('vm_hwm_kb')
        ok = None if hwm is None else hwm < TARGET_RSS_KB
        w(f"| `serve` peak RSS (VmHWM) | {fmt_n(r['n'])} | {mib(hwm)} | — | — | < 1 GiB | {verdict(ok)} |")
    w("")
    eq = [r for r in sizes if r["compare"]]
    if eq:
        w("**Same answer.** " + " ".join(
            (f"At N = {fmt_n(r['n'])} DuckDB's result equals `lpmhss report --format csv` row for row "
             f"({r['compare']['lpmhss_rows']:,} rows, every count and percentage identical)."
             if r["compare"].get("equal") else
             f"At N = {fmt_n(r['n'])} the results DIFFER: {json.dumps(r['compare'])}.")
            for r in eq))
        eqf = [r for r in sizes if r["compare_file"]]
        if eqf and all(r["compare_file"].get("equal") for r in eqf):
            w("The same report computed from the file-landed copy (`ingest`) is identical to the one "
              "from the Kafka-landed copy (`serve`).")
        elif eqf:
            w("WARNING: the report from the file-landed copy differs from the Kafka-landed one: "
              + "; ".join(json.dumps(r["compare_file"]) for r in eqf))
        w("")

    w("## Scaling\n")
    w("| N | feed | produce to tansu | raw consume | `serve` catch-up | `serve` incl. start-up | file ingest | `report` | DuckDB | data dir |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in sizes:
        s = r["serve"]
        prod = r["produce"]
        pr = r["n"] / prod["seconds"] if prod else None
        ing = r["ingest"]
        ir = r["n"] / ing["seconds"] if ing else None
        feed_mb = r["feed"].get("bytes", 0) / 1e6
        dsz = r["data_size"].get("kb")
        w(f"| {fmt_n(r['n'])} | {feed_mb:,.0f} MB NDJSON | {rate(pr)} | {rate(r['raw'])} ({r['raw_mb'] or 0:.0f} MB/s) | "
          f"{rate(s.get('events_per_sec'))} | {rate(s.get('events_per_sec_total'))} | {rate(ir)} | "
          f"{secs(r['report'])} | {secs(r['duck'])} | {'—' if dsz is None else f'{dsz / 1024:,.0f} MiB'} Parquet |")
    w("")
    w("Peak memory (max RSS of the process):\n")
    w("| N | tansu after produce | `serve` (VmHWM) | `ingest` | `report` | DuckDB (Python) |")
    w("|---|---|---|---|---|---|")
    for r in sizes:
        ing = r["ingest"] or {}
        w(f"| {fmt_n(r['n'])} | {mib(r['broker'].get('rss_kb_after_produce'))} | {mib(r['serve'].get('vm_hwm_kb'))} | "
          f"{mib(ing.get('max_rss_kb'))} | {mib(r['report_rss'])} | {mib(r['duck_rss'])} |")
    w("")
    w("Raw runs:\n")
    for r in sizes:
        s = r["serve"]
        w(f"- N = {fmt_n(r['n'])}: raw consume {', '.join(rate(x['messages_per_sec']) for x in r['raw_runs'])} "
          f"(from the first message; {', '.join(secs(x['seconds_total']) for x in r['raw_runs'])} from process start "
          f"including the group join); `serve` joined the group at {secs(s.get('assigned_s'))}, landed the first "
          f"batch at {secs(s.get('first_landed_s'))}, had all {r['n']:,} at {secs(s.get('done_s'))} "
          f"({int(s.get('ingested') or 0):,} landed + {int(s.get('dead_lettered') or 0):,} dead-lettered, "
          f"{int(s.get('batches_landed') or 0):,} batches), stopped in {secs(s.get('shutdown_s'))} "
          f"(exit {s.get('exit_code', '?')}); `report` {', '.join(secs(x) for x in r['report_runs'])}; "
          f"DuckDB {', '.join(secs(x) for x in r['duck_runs'])}.")
    if comp:
        ing = comp["ingest"]
        cn = comp["params"]["n"]
        w(f"- compute on {cn:,} events ({comp['params']['months']} months × {comp['params']['referrals_per_month']:,} "
          f"referrals): {', '.join(secs(x) for x in comp['runs'])}, peak RSS {mib(comp['rss'])}; its ingest ran at "
          f"{rate(cn / ing['seconds'] if ing else None)}.")
        if comp.get("refresh_runs"):
            same = (comp.get("compare_refresh") or {}).get("equal")
            w(f"- refresh on the same data plus the next {comp['params'].get('new', 0):,} events: "
              f"{', '.join(secs(x) for x in comp['refresh_runs'])}, peak RSS {mib(comp['refresh_rss'])}; "
              f"the refreshed report {'equals' if same else 'DIFFERS FROM'} `report --derivation full` on the same directory.")
    for r in sizes:
        if r["current_runs"]:
            same = (r.get("compare_current") or {}).get("equal")
            w(f"- N = {fmt_n(r['n'])}: `report` from the last computation {', '.join(secs(x) for x in r['current_runs'])}, "
              f"peak RSS {mib(r['current_rss'])}; its output {'equals' if same else 'DIFFERS FROM'} "
              f"`report --derivation full`.")
    w("")

    if scale_tables:
        w("### Beyond the broker: `benches/scale.sh`\n")
        w("The in-memory test broker cannot hold 50M messages (about 15 GB), so larger sizes are "
          "measured without it by `benches/scale.sh`, in a separate run: the same feed, landed by "
          "`ingest --no-compute`, then `compute --derivation full`, `report` from that computation, "
          "`report --derivation full` and DuckDB, one run each, wall time and peak RSS.\n")
        for path in scale_tables:
            with open(path, encoding="utf-8") as f:
                w(f.read().rstrip() + "\n")
    w("## Definitions\n")
    w("- **raw consume**: `examples/raw_consume.rs`, a librdkafka `BaseConsumer` in a fresh group "
      "subscribed to `^lpmhss\\.events\\..+` from the earliest offset, doing nothing but count; "
      "messages / seconds from the first message to the N-th; best of two runs.")
    w("- **`serve` catch-up**: `lpmhss serve` (release build, `LPMHSS__COMPUTE__INTERVAL=10s`, defaults "
      "otherwise: flush at 50,000 messages or 5 s per partition) in a fresh group on the same backlog; "
      "`benches/e2e/serve_probe.py` polls `/metrics` every 100 ms; N / (time of the last committed batch "
      "(`lpmhss_last_landing_timestamp_seconds` once `lpmhss_events_ingested_total` + "
      "`lpmhss_events_dead_lettered_total` = N) − time of the first `partition assigned` log line), "
      "so, like the raw figure, it excludes the group join but includes validation, pseudonymisation, "
      "Parquet writing, fsync, the commit log and the periodic recomputations running alongside. "
      "\"incl. start-up\" divides by the time from process start.")
    w("- **time to first metric**: process start → `lpmhss_last_compute_timestamp_seconds` > 0 (the first "
      "computation runs at start-up, on whatever has landed). **time to a metric covering the whole backlog**: "
      "process start → the first computation that finished after the last event was landed.")
    w("- **peak RSS**: `VmHWM` from `/proc/PID/status` just before SIGTERM; for the other commands the "
      "child's `ru_maxrss` (`benches/e2e/timed.py`).")
    w("- **file ingest**: `lpmhss ingest --no-compute --data-dir DIR FEED.ndjson`, N / wall time from "
      "process start to exit (landing only; the recomputation is measured separately as `compute`).")
    w("- **`report` vs DuckDB**: process start to printed result, both: `lpmhss report --data-dir DIR "
      "--format csv` on the `serve` data directory, and `python3 benches/e2e/duckdb_report.py`, which "
      "runs the project's own SQL files in the order lpmhss does (`scoped_events`, then the stages of "
      "`sql/derivation.stages` as DuckDB tables, created and dropped where lpmhss does, then "
      "`activity_range` and `monthly`) over `read_parquet('DIR/events/**/*.parquet', hive_partitioning=true)` with the "
      "same reference tables, translating only dialect differences (`to_char` → `strftime`; "
      "`CAST(date AS INT)` → `(date - DATE '1970-01-01')`; `CAST(timestamp AS BIGINT)` → `epoch_us(timestamp)`; "
      "integer `/` → `//`). The SQL is a copy of `sql/` taken right after the build, so both run the same "
      "text. Medians of 3 alternating runs; both use all CPUs.")
    w("- **compute**: `lpmhss compute --data-dir DIR --derivation full` (derive every pathway from every "
      "event, rebuild every derived table) on ten years of Wales landed by `ingest --no-compute`; median of 3.")
    w("- **refresh**: the ten-year feed's last messages (about a day of Wales) held back, landed on a copy "
      "of the fully computed directory with `ingest --no-compute`, then `lpmhss compute --data-dir DIR` "
      "(`auto`: re-derive only the pathways the new events touch; the harness checks the log says so); "
      "process start to exit, median of 3.")
    w("- **`report` from the last computation**: `lpmhss report --data-dir DIR --format csv` (`auto`) on the "
      "`serve` data directory after `serve` stopped: the pathways of `serve`'s last computation, "
      "refreshed in memory with anything committed since (nothing, here); median of 3.")
    w("")
    notes = os.path.join(repo, "benches", "e2e", "NOTES.md")
    if os.path.exists(notes):
        with open(notes, encoding="utf-8") as f:
            w(f.read().rstrip() + "\n")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
