"""Lambda Function URLs in the local AWS: served on 127.0.0.1 for as long as the config, the
function and the local AWS exist; and a server that shrugs off malformed or stalled clients."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import struct
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import function_urls
from localaws.function_urls import LISTEN_BACKLOG, MAX_REQUEST_BYTES, LocalServer, serve

LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+/")
HANDLER = "approval.handler.lambda_handler"


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    from localaws import local_aws

    saved = dict(os.environ)  # the Lambda seam applies the function's environment
    try:
        with local_aws() as running:
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _function(aws: Any, name: str, handler: str = HANDLER) -> str:
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "the Lambda seam runs the project's own handler")
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler=handler,
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


def _refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError:
        return False
    except urllib.error.URLError:
        return True
    return False


# -- the Lambda API ------------------------------------------------------------------------------


def test_a_url_config_serves_its_function_until_it_is_deleted(aws):
    client = aws.client("lambda")
    arn = _function(aws, "url-api")
    url = client.create_function_url_config(FunctionName="url-api", AuthType="NONE")["FunctionUrl"]
    assert LOCAL_URL.fullmatch(url), url
    assert function_urls.running()[arn] == url
    status, content_type, body = _get(f"{url}no/such/page?x=1")
    assert (status, content_type) == (404, "text/html")  # the approval handler's own page
    assert b"<!doctype html>" in body.lower()
    assert client.get_function_url_config(FunctionName=arn)["FunctionUrl"] == url

    with pytest.raises(ClientError, match="ResourceConflictException"):
        client.create_function_url_config(FunctionName="url-api", AuthType="NONE")
    updated = client.update_function_url_config(FunctionName="url-api", AuthType="AWS_IAM")
    assert (updated["FunctionUrl"], updated["AuthType"]) == (url, "AWS_IAM")

    client.delete_function_url_config(FunctionName="url-api")
    assert _refused(url) and arn not in function_urls.running()
    again = client.create_function_url_config(FunctionName="url-api", AuthType="NONE")
    assert _get(again["FunctionUrl"])[0] == 404
    client.delete_function(FunctionName="url-api")
    assert _refused(again["FunctionUrl"]) and arn not in function_urls.running()


def test_a_function_error_is_a_bad_gateway(aws):
    _function(aws, "url-broken", handler="json.loads")  # loads(event, context): TypeError
    url = aws.client("lambda").create_function_url_config(
        FunctionName="url-broken", AuthType="NONE"
    )["FunctionUrl"]
    assert _get(url)[:2] == (502, "text/plain")
    aws.client("lambda").delete_function(FunctionName="url-broken")


def test_the_urls_stop_with_the_local_aws():
    from localaws import local_aws

    saved = dict(os.environ)
    try:
        with local_aws() as running:
            _function(running, "url-short-lived")
            url = running.client("lambda").create_function_url_config(
                FunctionName="url-short-lived", AuthType="NONE"
            )["FunctionUrl"]
            assert _get(url)[0] == 404
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert function_urls.running() == {}
    assert _refused(url)


# -- the HTTP server -----------------------------------------------------------------------------


def _echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event)}


def _raw(server: LocalServer, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes and nothing more, read until the server closes the connection."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", " ", "12, 13"])
def test_a_bad_content_length_is_answered_400(length, capfd):
    with serve(_echo) as server:
        response = _raw(server, f"POST / HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode())
    assert _status(response) == 400
    assert "Traceback" not in capfd.readouterr().err


def test_an_oversized_body_is_refused_before_it_is_read():
    with serve(_echo) as server:
        head = f"POST / HTTP/1.1\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n"
        response = _raw(server, head.encode())
    assert _status(response) == 413


def test_a_body_without_a_content_length_is_length_required(capfd):
    """No length means no body (RFC 9112): the bytes would otherwise be silently dropped."""
    seen = []
    with serve(lambda event, context: seen.append(event) or {"statusCode": 200}) as server:
        chunked = _raw(
            server,
            b"POST /in HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        unannounced = _raw(server, b"POST /decision HTTP/1.1\r\n\r\nid=1&action=approve")
        empty = _raw(server, b"POST /in HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        get = _raw(server, b"GET /in HTTP/1.1\r\n\r\n")
    assert (_status(chunked), _status(unannounced)) == (411, 411)
    assert (_status(empty), _status(get)) == (200, 200)
    assert [event["requestContext"]["http"]["method"] for event in seen] == ["POST", "GET"]
    assert "Traceback" not in capfd.readouterr().err


def test_malformed_requests_print_no_traceback(capfd):
    with serve(_echo) as server:
        assert _status(_raw(server, b"NOT HTTP AT ALL\r\n\r\n")) == 400
        assert _status(_raw(server, b"GET / HTTP/1.1 extra\r\n\r\n")) == 400
        short = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"  # then stops sending
        assert _status(_raw(server, short)) == 400
        # A client that resets the connection mid-body.
        host, port = server.url.removeprefix("http://").split(":")
        connection = socket.create_connection((host, int(port)), timeout=5)
        connection.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial")
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
        time.sleep(0.2)
        assert _get(f"{server.url}/still/serving")[0] == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_stalled_client_is_disconnected_and_others_are_served(monkeypatch):
    monkeypatch.setattr(function_urls, "READ_TIMEOUT_SECONDS", 0.3)
    with serve(_echo) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as stalled:
            stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            started = time.monotonic()
            assert stalled.recv(65536) == b""  # the server hung up
            assert time.monotonic() - started < 5
        assert _get(f"{server.url}/ok")[0] == 200


def test_the_listen_backlog_queues_a_burst_of_connections():
    """Connections queue while the server is busy: 64 at once, where socketserver's 5 would not."""
    assert LISTEN_BACKLOG >= 128
    server = LocalServer(_echo)  # listening, not yet accepting
    host, port = server.url.removeprefix("http://").split(":")
    connections = []
    try:
        for _ in range(64):
            connections.append(socket.create_connection((host, int(port)), timeout=2))
    finally:
        for connection in connections:
            connection.close()
        server.stop()
    assert len(connections) == 64
