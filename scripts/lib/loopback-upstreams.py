"""Loopback upstreams for the target scripts' outbound checks.

Usage: loopback-upstreams.py DIR PORTS_FILE

Binds three ports on 127.0.0.1 at once and holds them for its whole life,
so no other process can take them between the choice and the use:

- files: a plain HTTP file server over DIR (request lines on stderr);
- slow:  accepts connections and never answers;
- down:  bound but not listening, so connections are refused.

When all three are bound it writes "FILES SLOW DOWN" to PORTS_FILE (via a
rename, so a reader never sees half a line).
"""

import functools
import http.server
import os
import socket
import sys
import threading


def main() -> None:
    directory, ports_file = sys.argv[1], sys.argv[2]

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    slow = socket.socket()
    slow.bind(("127.0.0.1", 0))
    slow.listen(16)

    down = socket.socket()
    down.bind(("127.0.0.1", 0))

    ports = [files.server_address[1], slow.getsockname()[1], down.getsockname()[1]]
    tmp = ports_file + ".tmp"
    with open(tmp, "w") as out:
        out.write(" ".join(str(p) for p in ports) + "\n")
    os.replace(tmp, ports_file)

    held = []

    def hold() -> None:
        while True:
            conn, _ = slow.accept()
            held.append(conn)

    threading.Thread(target=hold, daemon=True).start()
    files.serve_forever()


if __name__ == "__main__":
    main()
