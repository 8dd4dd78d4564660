"""`https://` Milvus URIs: clipdex talks gRPC over TLS and checks the server's certificate.

None of the PyPI Milvus servers terminates TLS by itself without a certificate setup of its own,
so the test puts a TLS front (Python's ssl, ALPN h2, a self-signed certificate for localhost made
with openssl) before a plain Milvus Lite 3 server, exactly as a load balancer or Zilliz Cloud
would stand before Milvus. gRPC takes extra trusted roots from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
"""
import json
import os
import socket
import ssl
import subprocess
import threading

import pytest

import servers  # noqa: E402 - scripts/milvus, put on sys.path by conftest.py
from references import missing_reference  # noqa: E402


class TlsFront:
    """Accepts TLS on a loopback port and relays the decrypted bytes to a plain TCP port."""

    def __init__(self, cert, key, backend_port):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["h2"])
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()  # the client refused our certificate: nothing to relay
            return
        backend = socket.create_connection(("127.0.0.1", self.backend_port))
        threading.Thread(target=self._pump, args=(backend, secure), daemon=True).start()
        self._pump(secure, backend)

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


@pytest.fixture(scope="module")
def tls_milvus(tmp_path_factory):
    if not servers.available("lite3"):
        missing_reference("milvus-lite 3 is not installed: run scripts/milvus/venvs.sh lite3")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "localhost.pem", folder / "localhost.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = servers.Server("lite3").start()
    front = TlsFront(cert, key, server.port)
    yield f"https://localhost:{front.port}", cert
    front.close()
    server.stop()


def run_cli(tool, uri, commands, env=None):
    lines = "".join(json.dumps(c) + "\n" for c in commands)
    proc = subprocess.run([str(tool), uri, "--timeout", "30"], input=lines, capture_output=True, text=True,
                          timeout=120, env=env)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_https_uri_speaks_tls_to_a_trusted_server(tls_milvus, milvus_cli_tool, collection_name):
    uri, cert = tls_milvus
    env = dict(os.environ, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(cert))
    answers = run_cli(milvus_cli_tool, uri, [
        {"op": "create", "collection": collection_name, "dim": 4, "index": "FLAT", "metric": "L2"},
        {"op": "insert", "collection": collection_name, "rows": [{"id": 1, "url": "/tls", "vector": [1, 0, 0, 0]}]},
        {"op": "count", "collection": collection_name},
        {"op": "search", "collection": collection_name, "vectors": [[1, 0, 0, 0]], "k": 1},
        {"op": "drop", "collection": collection_name},
    ], env=env)
    assert [a["ok"] for a in answers] == [True] * 5, answers
    assert answers[2]["result"] == 1
    assert answers[3]["result"][0][0]["row"]["id"] == 1


def test_https_uri_refuses_an_untrusted_certificate(tls_milvus, milvus_cli_tool):
    uri, _ = tls_milvus
    env = {k: v for k, v in os.environ.items() if k != "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"}
    answers = run_cli(milvus_cli_tool, uri, [{"op": "list"}], env=env)
    assert len(answers) == 1 and answers[0]["ok"] is False, answers
    assert uri in answers[0]["message"] and answers[0]["code"] == "unavailable", answers


def test_http_uri_to_a_tls_port_fails_clearly(tls_milvus, milvus_cli_tool):
    uri, _ = tls_milvus
    plain = uri.replace("https://", "http://")
    answers = run_cli(milvus_cli_tool, plain, [{"op": "list"}])
    assert len(answers) == 1 and answers[0]["ok"] is False, answers
    assert plain in answers[0]["message"], answers
