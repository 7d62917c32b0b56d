"""A local stand-in for the Lambda Function URL: real HTTP on 127.0.0.1, same handler.

Each HTTP request becomes a payload-format-2.0 event, as AWS builds it (lower-case headers,
cookies apart, the body base64-encoded unless it is text), and the handler's response
(statusCode, headers, cookies, body, isBase64Encoded) becomes the HTTP response. So a local
run, the tests and a real browser exercise exactly the code that runs behind the URL.

    with serve() as server:
        print(server.url)  # e.g. http://127.0.0.1:50123 -> use it as APPROVAL_BASE_URL
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from approval.handler import lambda_handler

Handler = Callable[[dict[str, Any], Any], Any]

#: Lambda's own limit on a synchronous request payload.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
#: Bodies of these types arrive as text; all others base64-encoded, as Function URLs do.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
#: How often the serving thread checks for stop(); also the worst-case stop() latency.
_POLL_SECONDS = 0.05

_LOG = logging.getLogger(__name__)


class LocalServer:
    """A threaded HTTP server that feeds requests to a Lambda handler."""

    def __init__(self, handler: Handler = lambda_handler, host: str = "127.0.0.1", port: int = 0):
        self._httpd = ThreadingHTTPServer((host, port), _request_handler(handler))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="approval-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def serve(
    handler: Handler = lambda_handler, host: str = "127.0.0.1", port: int = 0
) -> Iterator[LocalServer]:
    """Serve `handler` on host:port (0 = any free port) for the `with` block's duration."""
    with LocalServer(handler, host, port) as server:
        yield server


def to_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The Function URL (payload format 2.0) event for one HTTP request."""
    parts = urlsplit(target)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            merged[name] = f"{merged[name]},{value}" if name in merged else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": merged,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": merged.get("host", ""),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        content_type = merged.get("content-type", "").lower()
        if content_type.startswith(_TEXT_TYPES):
            event["body"] = body.decode("utf-8", "replace")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def from_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body from a handler's return value, as Function URLs read it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A bare value is sent as a 200 JSON document.
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or ()]
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


def _request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class FunctionUrlRequestHandler(BaseHTTPRequestHandler):
        server_version = "approval-local"

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._send(413, [("Content-Type", "text/plain")], b"Request too large")
                return
            body = self.rfile.read(length) if length else b""
            event = to_event(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
            try:
                status, headers, payload = from_result(handler(event, None))
            except Exception:
                _LOG.exception("handler failed on %s %s", self.command, urlsplit(self.path).path)
                status, headers, payload = 502, [("Content-Type", "text/plain")], b"Bad gateway"
            self._send(status, headers, payload)

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            _LOG.debug("%s - " + format, self.client_address[0], *args)

    return FunctionUrlRequestHandler
