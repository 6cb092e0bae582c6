"""Rules, Secrets and a real HTTP receiver on loopback for the notification tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from integrations.models import Secret
from notifications.models import NotificationRule

HMAC = "k3y-for-signing-notifications-0123456789"


def secret(owner, name: str = "ops-hook-secret", key: str = HMAC) -> Secret:
    row = Secret(name=name)
    row.set_owner(owner)
    row.set_data({"hmacKey": key})
    row.save()
    return row


def rule(
    owner, url: str, events=("host.unhealthy", "host.recovered", "pool.failed"), **fields
) -> NotificationRule:
    name = fields.pop("name", "ops-hook")
    values = {"channel": NotificationRule.WEBHOOK, "url": url, "secret_name": "ops-hook-secret", **fields}
    row = NotificationRule(name=name, events=list(events), **values)
    row.set_owner(owner)
    row.save()
    return row


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A real HTTP server on 127.0.0.1 answering each POST with the next of `codes` (then the last one)."""

    def __init__(self, codes=(200,), port: int = 0):
        self.codes, self.requests = list(codes), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((dict(self.headers), raw))
                code = outer.codes.pop(0) if len(outer.codes) > 1 else outer.codes[0]
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/palette"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def verify(headers: dict, raw: bytes, key: str = HMAC) -> dict:
    """The body, after checking the signature as a receiver would."""
    expected = "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-PaletteAI-Signature"], expected)
    return json.loads(raw)
