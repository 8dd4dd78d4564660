"""Real Milvus servers for the integration tests: each kind is started once per session on a
free loopback port (scripts/milvus/servers.py) and stopped at the end. A kind whose virtual
environment is missing (scripts/milvus/venvs.sh) is skipped, never faked."""
import json
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "milvus"))
import servers  # noqa: E402

KINDS = [k for k in os.environ.get("CLIPDEX_MILVUS_KINDS", ",".join(servers.KINDS)).split(",") if k]


@pytest.fixture(scope="session", params=KINDS)
def milvus_server(request):
    kind = request.param
    if not servers.available(kind):
        pytest.skip(f"Milvus server `{kind}` is not installed: run scripts/milvus/venvs.sh {kind}")
    server = servers.Server(kind)
    try:
        server.start()
    except (RuntimeError, TimeoutError) as error:
        pytest.fail(f"Milvus server `{kind}` did not start: {error}")
    yield server
    server.stop()


class MilvusCli:
    """One milvus_cli process: JSON command in, JSON answer out."""

    def __init__(self, tool: pathlib.Path, uri: str):
        self.proc = subprocess.Popen([str(tool), uri, "--timeout", "60"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def call(self, op: str, **args):
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"milvus_cli exited with {self.proc.wait()} during `{op}`")
        return json.loads(line)

    def ok(self, op: str, **args):
        answer = self.call(op, **args)
        assert answer["ok"], answer
        return answer["result"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def milvus_cli_tool(build_dir) -> pathlib.Path:
    tool = build_dir / "tests" / "milvus_cli"
    if not tool.exists():
        pytest.fail(f"{tool} is missing: build the milvus_cli target")
    return tool


@pytest.fixture
def cli(milvus_server, milvus_cli_tool):
    client = MilvusCli(milvus_cli_tool, milvus_server.uri)
    yield client
    client.close()


@pytest.fixture
def collection_name():
    return "it_" + uuid.uuid4().hex[:12]
