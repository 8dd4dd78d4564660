"""Shared fixtures of the integration tests.

Real Milvus servers: each kind is started once per session on a free loopback port
(scripts/milvus/servers.py) and stopped at the end. A kind whose virtual environment is missing
(scripts/milvus/venvs.sh) is skipped, never faked.

clipdex itself: `clipdex_cli` runs the built `clipdex` with the emoji model, `start_server` runs
`clipdex serve` on a free loopback port, `serve_folder` serves a folder over loopback HTTP so that
add-by-URL has something to fetch."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "milvus"))
import servers  # noqa: E402
from references import missing_reference  # noqa: E402
from emoji_data import twemoji_maker  # noqa: E402

KINDS = [k for k in os.environ.get("CLIPDEX_MILVUS_KINDS", ",".join(servers.KINDS)).split(",") if k]


def start_milvus_server(kind: str, **options) -> servers.Server:
    """A started server of `kind` (options as servers.Server takes them); the caller stops it.
    A kind that is not installed is missing_reference; a server that does not start fails."""
    if not servers.available(kind):
        missing_reference(f"Milvus server `{kind}` is not installed: run scripts/milvus/venvs.sh {kind}")
    server = servers.Server(kind, **options)
    try:
        server.start()
    except (RuntimeError, TimeoutError) as error:
        pytest.fail(f"Milvus server `{kind}` ({options or 'default options'}) did not start: {error}")
    return server


@pytest.fixture(scope="session")
def start_milvus():
    """start_milvus_server, for test modules that need a server with options of their own."""
    return start_milvus_server


@pytest.fixture(scope="session", params=KINDS)
def milvus_server(request):
    server = start_milvus_server(request.param)
    yield server
    server.stop()


class MilvusCli:
    """One milvus_cli process: JSON command in, JSON answer out."""

    def __init__(self, tool: pathlib.Path, uri: str, *args: str):
        self.proc = subprocess.Popen([str(tool), uri, *args, "--timeout", "60"], stdin=subprocess.PIPE,
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
def milvus_cli_factory(milvus_cli_tool):
    """Factory: milvus_cli_factory(uri, *extra_args) -> MilvusCli; all are closed after the test."""
    opened = []

    def open_cli(uri, *args):
        opened.append(MilvusCli(milvus_cli_tool, uri, *args))
        return opened[-1]

    yield open_cli
    for client in opened:
        if client.proc.poll() is None:
            client.close()


@pytest.fixture
def cli(milvus_server, milvus_cli_tool):
    client = MilvusCli(milvus_cli_tool, milvus_server.uri)
    yield client
    client.close()


@pytest.fixture
def collection_name():
    return "it_" + uuid.uuid4().hex[:12]


class Clipdex:
    """The built `clipdex` binary on one store with one model."""

    def __init__(self, build_dir, model, db):
        self.binary = str(build_dir / "clipdex")
        self.base = ["--db", str(db), "--model", str(model)]

    def run(self, *args, check=True, timeout=900):
        proc = subprocess.run([self.binary, *self.base, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"clipdex {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr}")
        return proc


@pytest.fixture(scope="session")
def clipdex_cli(build_dir, emoji_model_dir):
    """Factory: clipdex_cli(db, model=the emoji model) -> Clipdex."""
    return lambda db, model=emoji_model_dir: Clipdex(build_dir, model, db)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClipdexServer:
    """A running `clipdex serve` on a free loopback port. `global_args` go before `serve`
    (e.g. --allow-private-urls), `serve_args` after it (e.g. --bearer-token)."""

    def __init__(self, cli: Clipdex, *global_args, serve_args=()):
        self.port = free_port()
        self.proc = subprocess.Popen([cli.binary, *cli.base, *global_args, "serve", "--port", str(self.port),
                                      *map(str, serve_args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                self.get("/api/milvus/health")  # any HTTP answer, 401 included, means it listens
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"clipdex serve exited: {self.proc.stderr.read()}")
                time.sleep(0.1)
        self.proc.kill()
        raise TimeoutError("clipdex serve did not answer within 60 s")

    def exchange(self, method, path, body=None, headers=None, raw=None):
        """-> (status, headers, parsed JSON body)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.headers, json.loads(resp.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.loads(error.read())

    def request(self, method, path, body=None, headers=None, raw=None):
        status, _, answer = self.exchange(method, path, body, headers, raw)
        return status, answer

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, body):
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def upload_exchange(self, path, filename: str, content: bytes, fields: dict, field="image"):
        """POST a multipart form: the file in `field`, plus plain `fields`. -> (status, headers, body)."""
        boundary = "clipdexboundary7d93"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, value in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.exchange("POST", path, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                             raw=b"".join(parts))

    def upload(self, path, filename: str, content: bytes, fields: dict, field="image"):
        status, _, answer = self.upload_exchange(path, filename, content, fields, field)
        return status, answer

    def stop(self):
        """SIGTERM, then the exit status (0 when it shut down cleanly)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=60)


@pytest.fixture(scope="session")
def start_server():
    """Factory: start_server(cli, *global_args, serve_args=()) -> ClipdexServer. Callers stop it
    and check the exit status; any left running are killed at the end of the session."""
    started = []

    def start(cli, *global_args, serve_args=()):
        server = ClipdexServer(cli, *global_args, serve_args=serve_args)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


class StaticFiles:
    """Serves a folder over HTTP on loopback, recording request paths; paths under /slow/ wait
    40 s first (longer than clipdex's 30 s fetch limit)."""

    def __init__(self, folder: pathlib.Path):
        self.hits = []
        hits = self.hits

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                hits.append(self.path)
                if self.path.startswith("/slow/"):
                    time.sleep(40)
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd.fileno() != -1:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture(scope="session")
def serve_folder():
    """Factory: serve_folder(folder) -> StaticFiles; any still serving are stopped at the end."""
    started = []

    def serve(folder):
        started.append(StaticFiles(folder))
        return started[-1]

    yield serve
    for files in started:
        files.stop()




@pytest.fixture(scope="session")
def twemoji_folder(tmp_path_factory):
    """See emoji_data.twemoji_maker."""
    return twemoji_maker(tmp_path_factory)
