#!/usr/bin/env python3
"""Run a command, print one JSON line: wall seconds, peak RSS of the child (KiB), exit status.

usage: timed.py [--stdout FILE] [--stderr FILE] [--env K=V ...] -- CMD ARGS...
The child's stdout/stderr go to the given files (default: inherited stderr for both, so the
JSON line on our stdout stays alone).
"""
import json
import os
import sys
import time


def main():
    argv = sys.argv[1:]
    out = err = None
    env = dict(os.environ)
    while argv and argv[0] != "--":
        flag = argv.pop(0)
        if flag == "--stdout":
            out = argv.pop(0)
        elif flag == "--stderr":
            err = argv.pop(0)
        elif flag == "--env":
            k, v = argv.pop(0).split("=", 1)
            env[k] = v
        else:
            sys.exit(f"timed.py: unknown flag {flag}")
    if not argv:
        sys.exit("timed.py: missing -- CMD")
    cmd = argv[1:]
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if out else 2
            fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if err else 2
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            os.execvpe(cmd[0], cmd, env)
        except Exception as e:  # noqa: BLE001
            os.write(2, f"timed.py: cannot run {cmd[0]}: {e}\n".encode())
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    rc = os.waitstatus_to_exitcode(status)
    print(json.dumps({
        "seconds": round(seconds, 4),
        "max_rss_kb": usage.ru_maxrss,
        "user_seconds": round(usage.ru_utime, 3),
        "sys_seconds": round(usage.ru_stime, 3),
        "rc": rc,
    }))
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
