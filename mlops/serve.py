"""`mlops serve`: a run's model behind the SageMaker container's HTTP contract, on 127.0.0.1.

The contract every SageMaker inference container implements (developer guide, "Use Your Own
Inference Code with Hosting Services"): `GET /ping` answers 200 when the model is loaded, and
`POST /invocations` takes the request body with its `Content-Type` and `Accept` and answers the
prediction, or the container's error status (415 unsupported content type, 406 unsupported
accept, 400 a payload the model cannot evaluate, 500 a failure) with its message. The model is
served by the same code as the local endpoint and `mlops predict` (localaws.hosting).

    curl -s localhost:8080/invocations -H 'Content-Type: text/csv' \
         --data-binary $'0.455,0.365,0.095,0.514,0.2245,0.101,0.15,0,0,1'
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from core.errors import UsageError
from localaws import serving
from mlops.predict import RunModel

#: The port SageMaker starts inference containers on.
DEFAULT_PORT = 8080
#: InvokeEndpoint's payload limit, which a container behind an endpoint never exceeds.
MAX_BODY_BYTES = 6 * 1024 * 1024


class ModelServer(ThreadingHTTPServer):
    """An HTTP server answering for one loaded model."""

    daemon_threads = True

    def __init__(self, served: serving.Served, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.served = served

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/ping":
            self._reply(200, b"\n", "text/plain")
        else:
            self._reply(404, b"Not Found\n", "text/plain")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/invocations":
            self._reply(404, b"Not Found\n", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(413, b"Request payload too large\n", "text/plain")
            return
        body = self.rfile.read(length)
        try:
            answer = self.server.served.invoke(
                body, self.headers.get("Content-Type"), self.headers.get("Accept")
            )
        except serving.ServingError as exc:
            self._reply(exc.status, f"{exc}\n".encode(), "text/plain")
        except Exception as exc:  # the container's answer to anything it did not expect
            self._reply(500, f"{type(exc).__name__}: {exc}\n".encode(), "text/plain")
        else:
            self._reply(200, answer.body, answer.content_type)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def start(model: RunModel, port: int = DEFAULT_PORT) -> ModelServer:
    """Load the model, then serve it from a background thread; `shutdown()` stops it."""
    served = model.load()  # /ping answers 200 only once the model is loaded
    try:
        server = ModelServer(served, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: {exc.strerror or exc}") from None
    threading.Thread(target=server.serve_forever, name="mlops-serve", daemon=True).start()
    return server


def main(model: RunModel, port: int = DEFAULT_PORT, out: TextIO | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM end it as KeyboardInterrupt)."""
    out = out or sys.stdout
    server = start(model, port)
    print(f"Serving {model.archive} ({model.image}) on {server.url}", file=out)
    print(f"  curl {server.url}/ping", file=out)
    print(
        f"  curl {server.url}/invocations -H 'Content-Type: text/csv' --data-binary @rows.csv",
        file=out,
        flush=True,
    )
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
        server.server_close()
    return 0
