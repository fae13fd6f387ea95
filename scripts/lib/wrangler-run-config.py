"""Writes a run config from infra/wrangler.toml: without [build] (no rebuild
on each start) and with `main` absolute, or MAIN when given.

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
assert "build" not in tomllib.loads(open(dst).read())
print(f"main {cfg['main']}, kv GATEWAY_KV, compatibility_date {cfg['compatibility_date']}")
