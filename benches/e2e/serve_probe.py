#!/usr/bin/env python3
"""Measure `lpmhss serve` catching up on a Kafka backlog of N messages.

usage: serve_probe.py --bin LPMHSS --brokers HOST:PORT --data-dir DIR --admin-port PORT
                      --expect N [--group-id G] [--timeout S] [--pid-file F] [--log F]
                      [--wait-fresh-metric yes|no]

Starts serve (env LPMHSS__PRIVACY__PSEUDONYMISATION_KEY and LPMHSS__COMPUTE__INTERVAL=10s
unless already set), polls /metrics every 100 ms, and prints one JSON line:
  assigned_s     start -> first `partition assigned` in serve's log (group joined; falls back
                 to lpmhss_partitions_assigned > 0 as polled)
  first_landed_s start -> first landed event visible in the counters
  done_s         start -> ingested + dead-lettered >= N (the time of the last committed batch,
                 lpmhss_last_landing_timestamp_seconds; done_seen_s is when the probe saw it)
  events_per_sec N / (done_s - assigned_s)   (steady state, like raw_consume's `seconds`)
  events_per_sec_total N / done_s            (from process start)
  first_metric_s start -> lpmhss_last_compute_timestamp_seconds > 0
  fresh_metric_s start -> first computation that started after the backlog was landed finished
                 and whose `pathways` covers every commit-log entry (its footer's
                 lpmhss.derived_through_seq), so nothing landed stays outside the figures
  vm_hwm_kb      peak RSS (VmHWM) just before SIGTERM
  shutdown_s     SIGTERM -> exit; exit_code
"""
import datetime
import json
import re
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pyarrow.parquet as pq


def covers_everything(data_dir):
    """Whether the derived `pathways` reflects every commit-log entry."""
    log_dir = os.path.join(data_dir, "_lpmhss", "commit_log")
    try:
        seqs = [int(n[:-5]) for n in os.listdir(log_dir) if n.endswith(".json") and n[:-5].isdigit()]
        meta = pq.read_metadata(os.path.join(data_dir, "pathways", "pathways.parquet")).metadata or {}
    except (OSError, ValueError):
        return False
    through = int(meta.get(b"lpmhss.derived_through_seq", b"0"))
    return bool(seqs) and through >= max(seqs)


def parse_metrics(text):
    m = {"ingested": 0.0, "dead": 0.0, "assigned": 0.0, "last_compute": 0.0, "compute_duration": None,
         "batches": 0.0, "last_landing": 0.0}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        if name.startswith("lpmhss_events_ingested_total"):
            m["ingested"] += v
        elif name.startswith("lpmhss_events_dead_lettered_total"):
            m["dead"] += v
        elif name.startswith("lpmhss_partitions_assigned"):
            m["assigned"] = v
        elif name.startswith("lpmhss_last_compute_timestamp_seconds"):
            m["last_compute"] = v
        elif name.startswith("lpmhss_compute_duration_seconds"):
            m["compute_duration"] = v
        elif name.startswith("lpmhss_batches_landed_total"):
            m["batches"] = v
        elif name.startswith("lpmhss_last_landing_timestamp_seconds"):
            m["last_landing"] = v
    return m


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_assignment(log_path):
    """Unix time of the first `partition assigned` line of serve's log, if any."""
    if not log_path:
        return None
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = ANSI.sub("", line)
                if "partition assigned" in line:
                    stamp = line.split()[0].rstrip("Z")
                    dt = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc)
                    return dt.timestamp()
    except (OSError, ValueError, IndexError):
        pass
    return None


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    a = {"--bin": None, "--brokers": None, "--data-dir": None, "--admin-port": None, "--expect": None,
         "--group-id": "bench", "--timeout": "1800", "--pid-file": None, "--log": None,
         "--wait-fresh-metric": "yes"}
    argv = sys.argv[1:]
    while argv:
        k = argv.pop(0)
        if k not in a or not argv:
            sys.exit(__doc__)
        a[k] = argv.pop(0)
    if None in (a["--bin"], a["--brokers"], a["--data-dir"], a["--admin-port"], a["--expect"]):
        sys.exit(__doc__)
    expect = int(a["--expect"])
    timeout = float(a["--timeout"])
    url = f"http://127.0.0.1:{a['--admin-port']}/metrics"
    env = dict(os.environ)
    env.setdefault("LPMHSS__PRIVACY__PSEUDONYMISATION_KEY", "bench-key-0123456789abcdef0123456789")
    env.setdefault("LPMHSS__COMPUTE__INTERVAL", "10s")
    log = open(a["--log"], "w") if a["--log"] else subprocess.DEVNULL
    cmd = [a["--bin"], "serve", "--brokers", a["--brokers"], "--data-dir", a["--data-dir"],
           "--admin-addr", f"127.0.0.1:{a['--admin-port']}", "--group-id", a["--group-id"]]
    started = time.monotonic()
    started_wall = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    if a["--pid-file"]:
        with open(a["--pid-file"], "w") as f:
            f.write(str(proc.pid))

    def stop_child(*_):
        if proc.poll() is None:
            proc.kill()
        sys.exit(1)

    signal.signal(signal.SIGTERM, stop_child)
    signal.signal(signal.SIGINT, stop_child)

    r = {"expect": expect, "assigned_s": None, "first_landed_s": None, "done_s": None,
         "first_metric_s": None, "fresh_metric_s": None}
    done_wall = None
    last_progress = started
    last = None
    try:
        while True:
            now = time.monotonic()
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited early with status {proc.returncode}")
            if now - started > timeout:
                raise RuntimeError(f"timed out after {timeout:.0f}s; last metrics {last}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    m = parse_metrics(resp.read().decode())
            except OSError:
                time.sleep(0.1)
                continue
            t = time.monotonic() - started
            last = m
            total = m["ingested"] + m["dead"]
            if r["assigned_s"] is None and m["assigned"] > 0:
                r["assigned_s"] = t
            if r["first_landed_s"] is None and total > 0:
                r["first_landed_s"] = t
            if r["first_metric_s"] is None and m["last_compute"] > 0:
                r["first_metric_s"] = t
            if r["done_s"] is None and total >= expect:
                # The counters reached N when the last batch was committed: use its timestamp,
                # not the time we happened to see it (the admin listener can be slow to answer
                # while a computation runs).
                done_wall = m["last_landing"] if m["last_landing"] > 0 else time.time()
                r["done_s"] = done_wall - started_wall
                r["done_seen_s"] = t
                r["ingested"] = m["ingested"]
                r["dead_lettered"] = m["dead"]
                r["batches_landed"] = m["batches"]
            compute_started = m["last_compute"] - (m["compute_duration"] or 0.0)
            if done_wall is not None and a["--wait-fresh-metric"] == "no":
                break
            if done_wall is not None and compute_started >= done_wall \
                    and covers_everything(a["--data-dir"]):
                r["fresh_metric_s"] = t
                r["last_compute_duration_s"] = m["compute_duration"]
                break
            if now - last_progress >= 5:
                last_progress = now
                print(f"serve_probe: t={t:6.1f}s landed {int(total)} of {expect}", file=sys.stderr, flush=True)
            time.sleep(0.1)
        r["vm_hwm_kb"] = vm_hwm(proc.pid)
        term = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            r["exit_code"] = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            r["exit_code"] = "killed after 60s"
        r["shutdown_s"] = round(time.monotonic() - term, 3)
    except RuntimeError as e:
        r["error"] = str(e)
        r["vm_hwm_kb"] = vm_hwm(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assigned_wall = first_assignment(a["--log"])
    r["assigned_polled_s"] = r["assigned_s"]
    if assigned_wall is not None:
        r["assigned_s"] = assigned_wall - started_wall
    for k in ("assigned_s", "assigned_polled_s", "first_landed_s", "done_s", "done_seen_s",
              "first_metric_s", "fresh_metric_s"):
        if r[k] is not None:
            r[k] = round(r[k], 3)
    if r["done_s"]:
        r["events_per_sec_total"] = round(expect / r["done_s"])
        base = r["assigned_s"] or 0.0
        r["events_per_sec"] = round(expect / (r["done_s"] - base)) if r["done_s"] > base else None
    print(json.dumps(r))
    sys.exit(0 if "error" not in r else 1)


if __name__ == "__main__":
    main()
