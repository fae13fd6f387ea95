#!/usr/bin/env python3
"""Checks a target's log output for one request's access log line and
metrics event (JSON objects written by gateway_core::observe).

usage: access_log_check.py LOG REQUEST_ID STATUS ROUTE [SECONDS]

Waits up to SECONDS (default 10) for LOG to contain a line with the access
log object `{"log":"access",...}` whose request_id is REQUEST_ID, checks its
fields, and then the metrics event `{"log":"metrics",...}` of the same
request. Platform prefixes before the object (wasmtime's `stdout [0] ::`,
colour codes) are ignored. Exit 0 when both are found and right; otherwise
prints why and exits 1.
"""
import json
import re
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def objects(path, kind):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return
    marker = '{"log":"%s"' % kind
    for line in ANSI.sub("", text).splitlines():
        at = line.find(marker)
        if at < 0:
            continue
        try:
            obj, _ = json.JSONDecoder().raw_decode(line[at:])
        except ValueError:
            continue
        yield obj


def find(path, kind, rid):
    return next((o for o in objects(path, kind) if o.get("request_id") == rid), None)


def main():
    log, rid, status, route = sys.argv[1:5]
    deadline = time.time() + float(sys.argv[5] if len(sys.argv) > 5 else 10)
    access = metrics = None
    while time.time() < deadline:
        access = find(log, "access", rid)
        metrics = find(log, "metrics", rid)
        if access and metrics:
            break
        time.sleep(0.2)
    if not access:
        sys.exit(f"no access log line with request_id {rid} in {log}")
    problems = []
    want = {"status": int(status), "route": route, "method": "GET"}
    for k, v in want.items():
        if access.get(k) != v:
            problems.append(f"{k} is {access.get(k)!r}, want {v!r}")
    for k in ("timestamp", "client_ip", "path", "latency_ms"):
        if access.get(k) is None:
            problems.append(f"{k} is missing")
    if not metrics:
        problems.append(f"no metrics event with request_id {rid}")
    else:
        names = {m.get("name") for m in metrics.get("metrics", [])}
        for n in ("gateway_requests_total", "gateway_request_duration_seconds"):
            if n not in names:
                problems.append(f"metrics event lacks {n}")
    if problems:
        sys.exit("; ".join(problems) + f"\naccess: {json.dumps(access)}")
    print(f"access log line: {json.dumps(access)}")


if __name__ == "__main__":
    main()
