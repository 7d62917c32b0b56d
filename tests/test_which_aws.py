"""Which AWS the commands act on: the account boto3's credential chain finds, never a silent
local AWS; `--local` for the embedded one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from clients.session import AWS_ENVIRONMENT

#: What STS answers a request signed with an unknown key (AWS's documented error shape).
_STS_REFUSAL = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>
  <Message>The security token included in the request is invalid.</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"""


@pytest.fixture
def account_endpoint() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP endpoint standing in for the account's AWS; records every request's headers."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(dict(self.headers))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(_STS_REFUSAL)))
            self.end_headers()
            self.wfile.write(_STS_REFUSAL)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _mlops(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`mlops ARGS` with HOME=home and no AWS variables, as on a fresh shell."""
    env = {k: v for k, v in os.environ.items() if k not in AWS_ENVIRONMENT}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true")
    return subprocess.run(
        [sys.executable, "-m", "mlops", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_uses_the_credentials_in_the_shared_files_not_the_local_aws(
    tmp_path: Path, account_endpoint: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = account_endpoint
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAFAKEFROMFILE0001\n"
        "aws_secret_access_key = not-a-real-secret\n"
    )
    # endpoint_url in the profile sends the account's traffic to the stand-in above.
    (aws / "config").write_text(f"[default]\nregion = eu-west-1\nendpoint_url = {url}\n")

    result = _mlops(tmp_path, "deploy")

    assert result.returncode == 1, result.stderr
    assert "local AWS" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "mlops deploy: error: GetCallerIdentity: InvalidClientTokenId: "
        "The security token included in the request is invalid."
    ]
    assert seen, "nothing reached the account's endpoint"
    authorization = seen[0]["Authorization"]
    assert "Credential=AKIAFAKEFROMFILE0001/" in authorization
    assert "/eu-west-1/sts/" in authorization


def test_no_credentials_is_one_line_naming_where_it_looked(tmp_path: Path) -> None:
    result = _mlops(tmp_path, "start")

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlops start: error: no AWS credentials found; looked in ")
    assert "~/.aws/credentials" in lines[0] and "--local" in lines[0]


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    result = _mlops(tmp_path, "upsert", "--profile", "nope")

    assert result.returncode == 2
    assert result.stderr.startswith("mlops upsert: error: --profile nope: ")


def test_local_takes_no_profile(tmp_path: Path) -> None:
    result = _mlops(tmp_path, "deploy", "--local", "--profile", "x")

    assert result.returncode == 2
    assert "--local" in result.stderr


@pytest.mark.slow
def test_local_upsert_acts_on_the_embedded_local_aws(tmp_path: Path) -> None:
    result = _mlops(tmp_path, "upsert", "--local")

    assert result.returncode == 0, result.stderr
    assert "using the embedded local AWS (--local" in result.stderr
    assert result.stdout.strip() == "Pipeline abalone-pipeline: created"
