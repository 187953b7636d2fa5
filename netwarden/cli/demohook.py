"""``make demo``: the webhook receiver standing in for the pager and ticket gateways.

The demo's Alertmanager runs ``dashboards/alertmanager/alertmanager.yml`` with every
receiver's webhook URL pointed here (``http://127.0.0.1:PORT/<receiver>``): nothing leaves
the host. Each notification is appended to a JSON-lines file as ``{"receiver": ...,
"alerts": [...]}``; the demo's summary counts them.

Usage: ``python -m netwarden.cli.demohook PORT FILE`` (loopback only), until SIGTERM;
``python -m netwarden.cli.demohook --show FILE`` lists what was received, a line per
notification (receiver, alerts, their names and sites).
"""

from __future__ import annotations

import http.server
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def serve(port: int, out: Path) -> None:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            line = {"receiver": self.path.strip("/"), "alerts": body.get("alerts", [])}
            with lock, out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base's name)
            """Quiet: the file is the record."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    out.touch()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def show(path: Path) -> None:
    """A line per notification of ``path``: receiver, how many alerts, their names and sites."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        n = json.loads(line)
        labels = [a.get("labels", {}) for a in n.get("alerts", [])]
        names = ", ".join(sorted({str(lab.get("alertname", "?")) for lab in labels}))
        where = ", ".join(  # the sites, then the auditor's detectors
            a
            for k in ("site", "detector")
            for a in sorted({str(lab.get(k, "")) for lab in labels})
            if a
        )
        sys.stdout.write(f"  {n['receiver']:<16} {len(labels):>3} alert(s)  {names}  ({where})\n")


if __name__ == "__main__":
    if sys.argv[1] == "--show":
        show(Path(sys.argv[2]))
    else:
        serve(int(sys.argv[1]), Path(sys.argv[2]))
