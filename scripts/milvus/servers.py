"""Start and stop real Milvus servers on free loopback ports, from the PyPI packages that
scripts/milvus/venvs.sh installs into .cache/milvus/venv-*.

    python scripts/milvus/servers.py lite25 [--port N] [--data DIR]   # runs until Ctrl+C
    python scripts/milvus/servers.py standalone --auth                # user root, password Milvus

Kinds: lite3 (milvus-lite 3.x `milvus-lite server`), lite25 (the C++ server binary inside
milvus-lite 2.5.x, given a database file and an address), standalone (milvus 2.3.x
`milvus-server`: Milvus standalone with embedded etcd and local storage).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
VENVS = REPO / ".cache" / "milvus"
KINDS = ("lite3", "lite25", "standalone")
START_TIMEOUT = {"lite3": 60, "lite25": 60, "standalone": 240}
# Milvus's built-in administrator when authentication is on (common.security.authorizationEnabled)
ROOT_TOKEN = "root:Milvus"


def venv(kind: str) -> pathlib.Path:
    return VENVS / f"venv-{kind}"


def available(kind: str) -> bool:
    return (venv(kind) / ".clipdex-pin").is_file()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _site_packages(kind: str) -> pathlib.Path:
    return next((venv(kind) / "lib").glob("python3*/site-packages"))


def _command(kind: str, port: int, data: pathlib.Path, auth: bool) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if kind == "lite3":
        return [str(venv(kind) / "bin" / "milvus-lite"), "server", "--data-dir", str(data),
                "--host", "127.0.0.1", "--port", str(port)], env
    if kind == "lite25":
        lib = _site_packages(kind) / "milvus_lite" / "lib"
        env["LD_LIBRARY_PATH"] = f"{lib}:{env.get('LD_LIBRARY_PATH', '')}"
        return [str(lib / "milvus"), str(data / "milvus.db"), f"127.0.0.1:{port}", "ERROR"], env
    if kind == "standalone":
        # The launcher moves its coordinators' ports to free ones when taken, but not embedded
        # etcd's peer port (2380): an etcd config of our own lets two standalones run at once.
        etcd_client, etcd_peer = free_port(), free_port()
        etcd_config = data / "embed-etcd.yaml"
        etcd_config.write_text("name: default\n"
                               f"listen-client-urls: http://127.0.0.1:{etcd_client}\n"
                               f"advertise-client-urls: http://127.0.0.1:{etcd_client}\n"
                               f"listen-peer-urls: http://127.0.0.1:{etcd_peer}\n"
                               f"initial-advertise-peer-urls: http://127.0.0.1:{etcd_peer}\n"
                               f"initial-cluster: default=http://127.0.0.1:{etcd_peer}\n")
        env["ETCD_CONFIG_PATH"] = str(etcd_config)  # Milvus reads settings from the environment too
        # the launcher reads any value of --authorization-enabled as true ("false" included)
        return [str(venv(kind) / "bin" / "milvus-server"), "--data", str(data), "--proxy-port", str(port),
                "--etcd-port", str(etcd_client),
                *(["--authorization-enabled", "true"] if auth else [])], env
    if auth:
        raise ValueError(f"Milvus server kind {kind!r} has no authentication; only standalone has")
    raise ValueError(f"unknown Milvus server kind {kind!r} (expected one of {KINDS})")


def _answers(port: int, token: str) -> bool:
    """True once the gRPC port accepts connections and a ShowCollections succeeds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    except OSError:
        return False
    try:
        from pymilvus import MilvusClient  # the reference client, in .venv
    except ImportError:
        return True
    try:
        client = MilvusClient(f"http://127.0.0.1:{port}", token=token, timeout=5)
        client.list_collections()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


class Server:
    def __init__(self, kind: str, data: pathlib.Path | None = None, port: int | None = None, auth: bool = False):
        self.kind = kind
        self.auth = auth
        if auth and kind != "standalone":
            raise ValueError(f"Milvus server kind {kind!r} has no authentication; only standalone has")
        self.port = port or free_port()
        self._tmp = None
        if data is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"clipdex-milvus-{kind}-")
            data = pathlib.Path(self._tmp.name)
        self.data = data
        self.data.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        args, env = _command(self.kind, self.port, self.data, self.auth)
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the server
        # its own session, so that stop() ends the launcher and every child it made
        self.proc = subprocess.Popen(args, env=env, cwd=self.data, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT[self.kind]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.proc.returncode}: {self.log_tail()}")
            if _answers(self.port, ROOT_TOKEN if self.auth else ""):
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{self.kind} server did not answer on port {self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.proc = None
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--data", type=pathlib.Path)
    parser.add_argument("--auth", action="store_true", help=f"standalone only: authentication on ({ROOT_TOKEN})")
    args = parser.parse_args()
    # a launcher started in the background inherits an ignored SIGINT; both signals must stop it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Server(args.kind, args.data, args.port, args.auth) as server:
        print(server.uri, flush=True)
        try:
            server.proc.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
