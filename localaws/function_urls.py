"""Lambda Function URLs, locally: real HTTP on 127.0.0.1 in front of a Lambda handler.

On AWS a Function URL (`https://<id>.lambda-url.<region>.on.aws/`) turns each HTTP request
into a payload-format-2.0 event (lower-case headers, cookies apart, the body base64-encoded
unless it is text) and the function's result (statusCode, headers, cookies, body,
isBase64Encoded) back into the HTTP response. `LocalServer` does the same on 127.0.0.1, so a
local run, the tests and a real browser exercise exactly the code that runs behind the URL.

Two ways in:

* `serve(handler)`: a server for the `with` block, for a handler called directly.

      with serve(lambda_handler) as server:
          print(server.url)  # e.g. http://127.0.0.1:50123 -> use it as APPROVAL_BASE_URL

* `start_function_url(function_arn, handler)`: what the local AWS does when a function gets a
  URL config (Lambda's CreateFunctionUrlConfig, or an `AWS::Lambda::Url` resource through
  CloudFormation). The server runs until `stop_function_url` (the config or the function is
  deleted), or `stop_all` (the local AWS stops).

The server is for one developer's machine, not the internet, but it is what a reviewer's
browser talks to, so it holds up as a Function URL does: a burst of clicks queues instead of
being reset (listen backlog), a body needs a valid Content-Length (negative or non-numeric:
400; none on a POST, or a chunked body: 411) and at most Lambda's 6 MB (413), a request must
arrive within a few seconds (a stalled or trickling client is disconnected, in its own thread),
and a malformed request gets its error answer (delivered: see `shutdown_request`) with nothing
but a debug log line, never a traceback in the terminal of whoever runs the server.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], Any], Any]

#: Lambda's own limit on a synchronous request payload.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
#: Connections the listening socket queues before refusing (socketserver's default is 5).
LISTEN_BACKLOG = 128
#: The whole request (line, headers, body) must arrive within this time, and a response must
#: be taken within it: a local client needs milliseconds, a stalled one is disconnected.
READ_TIMEOUT_SECONDS = 5.0
#: After answering, what the client still sends is read and dropped for up to this long, so
#: that closing does not reset the connection and lose the answer.
_LINGER_SECONDS = 1.0
#: Requests that carry a body: without a Content-Length they are refused (411).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Bodies of these types arrive as text; all others base64-encoded, as Function URLs do.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
#: How often a serving thread checks for stop(); also the worst-case stop() latency.
_POLL_SECONDS = 0.05
_DIGITS = re.compile(r"[0-9]+")

_LOG = logging.getLogger(__name__)


class LocalServer:
    """A threaded HTTP server that feeds requests to a Lambda handler."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "function-url",
    ):
        self._httpd = _HTTPServer((host, port), _request_handler(handler))
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash: http://127.0.0.1:<port>."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=self._name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the serving thread (not requests)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> Iterator[LocalServer]:
    """Serve `handler` on host:port (0 = any free port) for the `with` block's duration."""
    with LocalServer(handler, host, port) as server:
        yield server


# -- the Function URLs of the local AWS ------------------------------------------------------

_SERVERS: dict[str, LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def start_function_url(function_arn: str, handler: Handler) -> str:
    """Serve `handler` as the URL of `function_arn` (replacing any); returns the URL.

    The URL ends in "/", like the FunctionUrl that Lambda returns.
    """
    server = LocalServer(handler, name=f"function-url {function_arn.rpartition(':')[2]}").start()
    with _SERVERS_LOCK:
        previous = _SERVERS.pop(function_arn, None)
        _SERVERS[function_arn] = server
    if previous is not None:
        previous.stop()
    return f"{server.url}/"


def stop_function_url(function_arn: str) -> bool:
    """Stop the URL of `function_arn`; False if it had none."""
    with _SERVERS_LOCK:
        server = _SERVERS.pop(function_arn, None)
    if server is None:
        return False
    server.stop()
    return True


def stop_all() -> None:
    """Stop every Function URL (the local AWS calls this when it stops)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.stop()


def running() -> dict[str, str]:
    """Function ARN -> URL of every Function URL being served."""
    with _SERVERS_LOCK:
        return {arn: f"{server.url}/" for arn, server in _SERVERS.items()}


# -- HTTP <-> payload format 2.0 -------------------------------------------------------------


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


# -- the server ------------------------------------------------------------------------------


class Throttled(Exception):
    """Raised by a handler when the function is at its concurrency limit: Function URLs answer
    429 Too Many Requests (AWS docs, Lambda function URLs, "Throttling and function URLs")."""


class _BadRequest(Exception):
    """The request is malformed: answer `status` with `message` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _DeadlineReader(io.RawIOBase):
    """The connection's incoming bytes, every receive bounded by one deadline for the request.

    A socket timeout alone bounds each receive, so a client trickling a byte a second would
    hold its thread forever; the deadline bounds them all together.
    """

    def __init__(self, connection: socket.socket, seconds: float):
        self._connection = connection
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._connection.settimeout(remaining)
        try:
            return self._connection.recv_into(buffer)
        finally:
            self._connection.settimeout(self._seconds)  # for writing the response


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished or sent garbage is not the server's problem: no traceback.
        _LOG.debug("request from %s failed", client_address, exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        """Half-close, drain, then close, so that an early answer (400, 411, 413...) arrives.

        Closing a socket with unread input sends a reset, which may erase the answer from the
        client's buffers before it is read (RFC 9112, 9.6 Tear-down).
        """
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(_LINGER_SECONDS)
            deadline = time.monotonic() + _LINGER_SECONDS
            while time.monotonic() < deadline and request.recv(65536):
                pass
        except OSError:
            pass
        self.close_request(request)


def _request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class FunctionUrlRequestHandler(BaseHTTPRequestHandler):
        server_version = "local-function-url"
        # Errors about unparsable request lines get a status line (no HTTP/0.9 answers).
        default_request_version = "HTTP/1.0"

        def setup(self) -> None:
            # One request per connection (HTTP/1.0 answers), so one deadline per request.
            # Read per connection (tests shorten it); socketserver reads it as an attribute.
            self.timeout = READ_TIMEOUT_SECONDS  # type: ignore[misc]
            super().setup()
            self.rfile.close()  # the plain buffered socket file, replaced by one with a deadline
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.timeout))

        def _dispatch(self) -> None:
            try:
                body = self._body()
                event = self._event(body)
            except _BadRequest as exc:
                self.close_connection = True
                self._send(exc.status, [("Content-Type", "text/plain")], str(exc).encode())
                return
            try:
                status, headers, payload = from_result(handler(event, None))
            except Throttled:
                status, headers = 429, [("Content-Type", "application/json")]
                payload = b'{"Message":"Rate Exceeded."}'
            except Exception:
                _LOG.exception("handler failed on %s %s", self.command, urlsplit(self.path).path)
                status, headers, payload = 502, [("Content-Type", "text/plain")], b"Bad gateway"
            self._send(status, headers, payload)

        def _event(self, body: bytes) -> dict[str, Any]:
            headers, source_ip = list(self.headers.items()), self.client_address[0]
            try:
                return to_event(self.command, self.path, headers, body, source_ip)
            except ValueError:  # e.g. "http://[::1" as the target: urlsplit refuses it
                raise _BadRequest(400, "Bad request target") from None

        def _body(self) -> bytes:
            """The body Content-Length announces; a stall past the deadline raises TimeoutError.

            No length, no body (RFC 9112 6.3), so a POST without one is refused rather than
            read as empty; chunked bodies are refused too, as one more parser to get wrong.
            """
            if "Transfer-Encoding" in self.headers:
                raise _BadRequest(411, "Length Required: send the body with a Content-Length")
            declared = self.headers.get_all("Content-Length") or []
            if not declared:
                if self.command in _BODY_METHODS:
                    raise _BadRequest(411, "Length Required: send a Content-Length")
                return b""
            if len(set(declared)) > 1 or not _DIGITS.fullmatch(declared[0].strip()):
                raise _BadRequest(400, "Bad Content-Length")
            length = int(declared[0])
            if length > MAX_REQUEST_BYTES:
                raise _BadRequest(413, "Request too large")
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                raise _BadRequest(400, "Incomplete body")
            return body

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

        def handle(self) -> None:
            try:
                super().handle()
            except (ConnectionError, TimeoutError) as exc:
                _LOG.debug("connection from %s dropped: %s", self.client_address[0], exc)

        def log_message(self, format: str, *args: Any) -> None:
            _LOG.debug("%s - " + format, self.client_address[0], *args)

    return FunctionUrlRequestHandler
