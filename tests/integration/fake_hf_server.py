"""A local stand-in for the Hugging Face hub, for download tests that cannot reach the internet.

It answers like huggingface.co does for what clipdex and huggingface_hub use:
  HEAD/GET /{org}/{name}/resolve/{revision}/{file}
    - regular files: 200, ETag = git blob sha1, X-Repo-Commit, Content-Length;
    - LFS files: 302 to a "CDN" URL on another origin (http://localhost:PORT/cdn/<sha256>),
      with X-Linked-Etag = sha256, X-Linked-Size and X-Repo-Commit;
    - errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo).
  GET /cdn/<sha256> with Range support (206 / Content-Range).
Every request is logged (method, path, headers). Faults can be injected per file: drop the
connection after N bytes, serve corrupted bytes, ignore Range, demand a token.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
import urllib.parse


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclasses.dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    lfs: set[str] = dataclasses.field(default_factory=set)
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            self.commit = hashlib.sha1(self.repo_id.encode()).hexdigest()


@dataclasses.dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[Logged] = []
        self.drop_after: dict[str, int] = {}  # file -> bytes sent before the connection drops (once)
        self.corrupt: set[str] = set()  # files whose served bytes differ from their sha256
        self.ignore_range: set[str] = set()
        self.required_token: str | None = None
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cdn_origin = f"http://localhost:{self.port}"  # another origin, as a CDN would be
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def start(self) -> "FakeHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def log(self, entry: Logged) -> None:
        with self._lock:
            self.requests.append(entry)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def blob(self, sha256: str) -> tuple[str, bytes] | None:
        for repo in self.repos.values():
            for name, data in repo.files.items():
                if hashlib.sha256(data).hexdigest() == sha256:
                    return name, data
        return None


def _make_handler(hub: FakeHub):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_HEAD(self) -> None:
            self._handle(send_body=False)

        def do_GET(self) -> None:
            self._handle(send_body=True)

        def _handle(self, send_body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            hub.log(Logged(self.command, path, {k.lower(): v for k, v in self.headers.items()}))
            if path.startswith("/cdn/"):
                self._serve_cdn(path[len("/cdn/"):], send_body)
                return
            parts = path.lstrip("/").split("/", 4)
            if len(parts) < 5 or parts[2] != "resolve":
                self._error(404, "EntryNotFound", "unknown route")
                return
            self._serve_resolve(f"{parts[0]}/{parts[1]}", parts[3], parts[4], send_body)

        def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
            body = message.encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve_resolve(self, repo_id: str, revision: str, name: str, send_body: bool) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return
            if hub.required_token and self.headers.get("Authorization") != f"Bearer {hub.required_token}":
                self._error(401, "GatedRepo", "Access to this repo is restricted")
                return
            if revision not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                return
            data = repo.files.get(name)
            if data is None:
                self._error(404, "EntryNotFound", "Entry not found", commit=repo.commit)
                return
            self.send_response(302 if name in repo.lfs else 200)
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{git_blob_sha1(data)}"')
            if name in repo.lfs:
                sha = hashlib.sha256(data).hexdigest()
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Location", f"{hub.cdn_origin}/cdn/{sha}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def _serve_cdn(self, sha: str, send_body: bool) -> None:
            found = hub.blob(sha)
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            name, data = found
            if name in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            range_header = self.headers.get("Range", "")
            if range_header.startswith("bytes=") and name not in hub.ignore_range:
                start = int(range_header[len("bytes="):].split("-")[0])
            if start >= len(data) and len(data) > 0:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", f'"{sha}"')
            self.end_headers()
            if not send_body:
                return
            payload = data[start:]
            drop = hub.drop_after.pop(name, None)
            if drop is not None:
                self.wfile.write(payload[:drop])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler
