"""The local review server under the load and abuse issue 11 reproduced against it.

Fifty people clicking Approve at once, malformed lengths, stalled or trickling clients and
garbage requests: each gets an HTTP answer (or a prompt hang-up), never a reset, a 500 or a
traceback in the terminal of the developer running `mlops run`.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from localaws import function_urls
from localaws.function_urls import LocalServer, serve

CLICKS = 50
#: Loopback handshakes take microseconds; a full listen queue drops the SYN, and the client
#: retries only after a second (Linux), or is reset (macOS).
CONNECT_TIMEOUT_SECONDS = 0.9


def _post(url: str, path: str, body: bytes, barrier: threading.Barrier) -> int | str:
    """One click on its own socket, connected only when every click is ready; the status."""
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    barrier.wait()
    try:
        with socket.create_connection((host, int(port)), CONNECT_TIMEOUT_SECONDS) as connection:
            connection.settimeout(60)
            connection.sendall(request)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
    except OSError as error:  # a reset or a dropped SYN: the bug this test is about
        return type(error).__name__
    if not received:
        return "no answer"
    return int(received.split(b" ", 2)[1])


def test_fifty_simultaneous_clicks_get_one_decision_and_49_conflicts(approval_stack, capfd):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"clicks-{approval_stack.suffix}"
    )
    body = urlencode(approval_stack.decision_form(approval_id, expires_at)).encode()
    barrier = threading.Barrier(CLICKS)
    statuses: list[int | str] = [""] * CLICKS

    def click(index: int) -> None:
        statuses[index] = _post(approval_stack.url, "/decision", body, barrier)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(CLICKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sorted(statuses, key=str) == [200] + [409] * (CLICKS - 1), statuses
    assert approval_stack.item(approval_id)["status"]["S"] == "APPROVED"
    assert len(approval_stack.callbacks) == 1
    assert approval_stack.wait_for_execution(execution_arn)["status"] == "SUCCEEDED"
    assert "Traceback" not in capfd.readouterr().err


# -- one client at a time ------------------------------------------------------------------------


def _echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event)}


def _connect(server: LocalServer, timeout: float = 10) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _exchange(server: LocalServer, request: bytes) -> bytes:
    """Send `request`, then read the answer until the server hangs up (a reset raises)."""
    received = b""
    with _connect(server) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        while chunk := connection.recv(65536):
            received += chunk
    return received


#: Requests the server must answer itself, with this status, never passing them on.
MALFORMED = {
    "garbage": (b"NOT HTTP AT ALL\r\n\r\n", 400),
    "tls-hello": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64)), 400),
    "no-target": (b"GET\r\n\r\n", 400),
    "bad-target": (b"GET http://[::1 HTTP/1.1\r\n\r\n", 400),  # urlsplit raises ValueError
    "unknown-method": (b"BREW /pot HTTP/1.1\r\n\r\n", 501),
    "lower-case-method": (b"get / HTTP/1.1\r\n\r\n", 501),
    "bad-version": (b"GET / HTTP/9.9\r\n\r\n", 505),
    "huge-target": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    "huge-header": (b"GET / HTTP/1.1\r\nX-Huge: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    "many-headers": (b"GET / HTTP/1.1\r\n" + b"X-Many: a\r\n" * 101 + b"\r\n", 431),
    "two-lengths": (
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    # Read to the end of the stream once, past the size limit (issue 11).
    "negative-length": (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n" + b"x" * 100_000, 400),
    "hex-length": (b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
    "huge-length": (b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
    # Answered before the body is read: the answer must survive the unread 7 MB.
    "too-large": (b"POST / HTTP/1.1\r\nContent-Length: 7000000\r\n\r\n" + b"x" * 7_000_000, 413),
    "no-length": (b"POST / HTTP/1.1\r\n\r\nid=x&action=approve", 411),
    "chunked": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        411,
    ),
    "chunked-and-length": (
        b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
        411,
    ),
}


@pytest.mark.parametrize(("request_bytes", "status"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_request_is_answered_without_a_traceback(request_bytes, status, capfd, caplog):
    seen = []
    with serve(lambda event, context: seen.append(event) or _echo(event, context)) as server:
        answer = _exchange(server, request_bytes)
        assert _exchange(server, b"GET /still/serving HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 200")
    assert answer.startswith(f"HTTP/1.0 {status} ".encode()), answer[:80]
    assert [event["rawPath"] for event in seen] == ["/still/serving"]  # the handler saw none
    assert "Traceback" not in capfd.readouterr().err
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_deadline_is_a_few_seconds():
    assert 1 <= function_urls.READ_TIMEOUT_SECONDS <= 10


def test_a_client_stalling_in_its_body_is_cut_off_while_others_are_served(monkeypatch):
    monkeypatch.setattr(function_urls, "READ_TIMEOUT_SECONDS", 2.0)
    with serve(_echo) as server, _connect(server) as stalled:
        stalled.sendall(b"POST /decision HTTP/1.1\r\nContent-Length: 100\r\n\r\nid=")
        started = time.monotonic()
        for _ in range(3):
            assert _exchange(server, b"GET /other HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 200")
        served = time.monotonic() - started
        assert stalled.recv(65536) == b""  # hung up on, without an answer
        hung_up = time.monotonic() - started
    assert served < 2.0  # while the stalled client still held its connection
    assert 1.9 < hung_up < 6


def test_a_client_trickling_its_headers_is_cut_off_at_the_deadline(monkeypatch):
    """A byte every 50 ms never trips a per-read timeout; the request's deadline still holds."""
    monkeypatch.setattr(function_urls, "READ_TIMEOUT_SECONDS", 1.0)
    request = b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 200  # 10 s at this pace
    with serve(_echo) as server, _connect(server) as trickling:
        started = time.monotonic()
        for byte in request:
            trickling.sendall(bytes([byte]))
            if select.select([trickling], [], [], 0.05)[0]:
                break  # the server hung up
        elapsed = time.monotonic() - started
        try:
            answer = trickling.recv(65536)
        except ConnectionResetError:  # a byte sent after the hang-up
            answer = b""
    assert answer == b""
    assert 0.9 < elapsed < 4
