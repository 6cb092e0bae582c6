"""A hostile (or broken) Palette on loopback: one scripted answer for every request, over plain HTTP.

The simulator is faithful to Palette; this is for what no honest Palette sends: bodies that echo the
key past a cut, redirects carrying it, messages of megabytes, answers without end. It records what it
was asked and how many body bytes it managed to write before the client hung up.

    with HostilePalette() as palette:
        palette.answer(302, headers={"Location": "https://elsewhere.example/?k=" + key})
        PaletteClient(palette.url, key).whoami()
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    """What every request gets: a status, headers, and a body (sent with Content-Length) or chunks (sent
    without, the connection closed at the end, as HTTP/1.0 allows) — chunks may be a generator of any
    length."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None


class HostilePalette:
    """A threaded HTTP server on 127.0.0.1 answering every method and path with ``answer``.

    ``requests`` lists ``(method, path, headers)`` of what arrived; ``sent`` counts the body bytes written.
    """

    def __init__(self):
        self._answer = Answer()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        chunks: Iterable[bytes] | None = None,
    ) -> None:
        """Script the answer to every following request."""
        self._answer = Answer(
            status, body.encode() if isinstance(body, str) else body, dict(headers or {}), chunks
        )

    def start(self) -> HostilePalette:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostilePalette:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        with self._lock:
            self.requests.append((h.command, h.path, dict(h.headers)))
        answer = self._answer
        h.send_response(answer.status)
        headers = {"Content-Type": "application/json", **answer.headers}
        if answer.chunks is None:
            headers.setdefault("Content-Length", str(len(answer.body)))
        else:
            h.close_connection = True
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        try:
            for chunk in [answer.body] if answer.chunks is None else answer.chunks:
                h.wfile.write(chunk)
                with self._lock:
                    self.sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client stopped reading: what the bounded read is for


def _handler(palette: HostilePalette) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    def serve(self) -> None:
        palette._serve(self)

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        setattr(Handler, f"do_{method}", serve)
    return Handler
