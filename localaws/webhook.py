"""A local stand-in for a Slack incoming webhook: records every JSON payload it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """An HTTP server on 127.0.0.1 that answers 200 "ok", as Slack does, and keeps the bodies."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.payloads.append(json.loads(body or b"null"))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/services/local"


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    sink._thread.start()
    try:
        yield sink
    finally:
        sink._httpd.shutdown()
        sink._httpd.server_close()
