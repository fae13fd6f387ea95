"""Writes a run config from infra/wrangler.toml: without [build] (no rebuild
on each start) and with `main` absolute, or MAIN when given. Checks the
bindings the worker needs (KV `GATEWAY_KV`, Durable Object `GATEWAY_COUNTERS`
with its migration) and that the copy keeps them.

usage: wrangler-run-config.py SRC DST [MAIN]
"""
import os
import re
import sys
import tomllib

src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
cfg = tomllib.loads(text)
assert cfg.get("compatibility_date"), "no compatibility_date"
kv = [k for k in cfg.get("kv_namespaces", []) if k.get("binding") == "GATEWAY_KV"]
assert kv and kv[0].get("id"), "no [[kv_namespaces]] binding GATEWAY_KV with an id"
do = [b for b in cfg.get("durable_objects", {}).get("bindings", []) if b.get("name") == "GATEWAY_COUNTERS"]
assert do and do[0].get("class_name") == "GatewayCounters", \
    "no [[durable_objects.bindings]] GATEWAY_COUNTERS with class_name GatewayCounters"
assert any("GatewayCounters" in m.get("new_sqlite_classes", []) for m in cfg.get("migrations", [])), \
    "no [[migrations]] with new_sqlite_classes = [\"GatewayCounters\"]"
main = sys.argv[3] if len(sys.argv) > 3 else os.path.normpath(os.path.join(os.path.dirname(src), cfg["main"]))
main = os.path.abspath(main)
assert os.path.isfile(main), f"main {main} does not exist"
out, skip = [], False
for line in text.splitlines():
    if re.match(r"^\s*\[", line):
        skip = line.strip() == "[build]"
    if skip:
        continue
    if re.match(r"^\s*main\s*=", line):
        line = f"main = {main!r}".replace("'", '"')
    out.append(line)
open(dst, "w").write("\n".join(out) + "\n")
run = tomllib.loads(open(dst).read())
assert "build" not in run
# The sections after [build] must survive the copy.
for section in ("kv_namespaces", "durable_objects", "migrations"):
    assert run.get(section) == cfg.get(section), f"{section} lost in the run config"
print(f"main {cfg['main']}, kv GATEWAY_KV, durable object GATEWAY_COUNTERS (GatewayCounters), compatibility_date {cfg['compatibility_date']}")
