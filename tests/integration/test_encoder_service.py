"""`clipdex serve-encoder` (issue #16, server side): the real clip_client (PyPI clip-client, its own
venv from scripts/clip_client_venv.sh) encodes texts, image files and a URL through it and gets
`clipdex embed`'s vectors; the service's own /v1/encode (JSON and raw float32) and /v1/model; the
bearer token; 16 concurrent clients batched together; bad inputs refused with 4xx naming the item
while the server stays up."""
import base64
import io
import json
import pathlib
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, free_port
from references import missing_reference

CLIP_CLIENT_PYTHON = REPO / ".cache" / "clip-client" / "venv" / "bin" / "python"


class EncoderServer:
    """A running `clipdex serve-encoder` on a free loopback port."""

    def __init__(self, binary, model, *global_args, serve_args=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([binary, "--model", str(model), *global_args, "serve-encoder", "--port",
                                      str(self.port), *map(str, serve_args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                self.exchange("GET", "/readyz")
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve-encoder exited: {self.proc.stderr.read()}")
                time.sleep(0.1)
        self.proc.kill()
        raise TimeoutError("serve-encoder did not answer within 60 s")

    def exchange(self, method, path, body=None, headers=None, raw=None):
        """-> (status, headers, body bytes)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method, path, body=None, headers=None, raw=None):
        status, _, data = self.exchange(method, path, body, headers, raw)
        return status, json.loads(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=60)


@pytest.fixture
def encoder(build_dir, emoji_model_dir):
    started = []

    def start(*global_args, serve_args=()):
        started.append(EncoderServer(str(build_dir / "clipdex"), emoji_model_dir, *global_args,
                                     serve_args=serve_args))
        return started[-1]

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.terminate()
            assert server.proc.wait(timeout=60) == 0, server.proc.stderr.read()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Three small PNGs of different colours and shapes."""
    folder = tmp_path_factory.mktemp("pictures")
    paths = []
    for i, (colour, size) in enumerate([((220, 30, 30), (64, 48)), ((30, 200, 40), (40, 80)),
                                        ((20, 40, 230), (90, 90))]):
        img = Image.new("RGB", size, colour)
        for x in range(size[0] // 4, size[0] // 2):
            for y in range(size[1] // 4, size[1] // 2):
                img.putpixel((x, y), (255, 255, 0))
        path = folder / f"pic{i}.png"
        img.save(path)
        paths.append(path)
    return paths


def embed(clipdex_cli, tmp_path, texts=(), images=()):
    args = ["embed", "--json"]
    for text in texts:
        args += ["--text", text]
    for image in images:
        args += ["--image", str(image)]
    out = json.loads(clipdex_cli(tmp_path / "unused.db").run(*args).stdout)
    return np.array([item["embedding"] for item in out["items"]], dtype=np.float32)


def cosines(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def run_clip_client(script: str, *args) -> str:
    if not CLIP_CLIENT_PYTHON.exists():
        missing_reference(f"the clip_client venv {CLIP_CLIENT_PYTHON} is missing: run scripts/clip_client_venv.sh")
    proc = subprocess.run([str(CLIP_CLIENT_PYTHON), "-c", script, *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


CLIENT_ENCODE = """
import json, sys
import numpy as np
from clip_client import Client
kwargs = {'credential': {'Authorization': sys.argv[2]}} if sys.argv[2] else {}
c = Client(sys.argv[1], **kwargs)
r = c.encode(json.loads(sys.argv[3]))
print(json.dumps({'shape': list(r.shape), 'rows': np.asarray(r).tolist()}))
"""


def test_real_clip_client_encodes_texts_files_and_a_url_like_clipdex_embed(encoder, clipdex_cli, tmp_path,
                                                                           pictures, serve_folder):
    server = encoder()
    files = serve_folder(pictures[0].parent)
    url = f"{files.base}/{pictures[2].name}"
    inputs = ["a red heart", str(pictures[0]), "a smiling face", str(pictures[1]), url]
    out = json.loads(run_clip_client(CLIENT_ENCODE, server.base, "", json.dumps(inputs)))
    got = np.array(out["rows"])
    want_texts = embed(clipdex_cli, tmp_path, texts=["a red heart", "a smiling face"])
    want_images = embed(clipdex_cli, tmp_path, images=pictures)
    want = np.stack([want_texts[0], want_images[0], want_texts[1], want_images[1], want_images[2]])
    assert out["shape"] == list(want.shape)
    assert cosines(got, want).min() >= 0.99999, cosines(got, want)


def test_clip_client_with_the_bearer_token(encoder, clipdex_cli, tmp_path):
    server = encoder(serve_args=["--bearer-token", "s3cret"])
    out = json.loads(run_clip_client(CLIENT_ENCODE, server.base, "Bearer s3cret", json.dumps(["a dog"])))
    assert cosines(out["rows"], embed(clipdex_cli, tmp_path, texts=["a dog"])).min() >= 0.99999
    # Without it, or with a wrong one, clip_client fails and the server answers 401.
    status, answer = server.json("POST", "/v1/encode", {"texts": ["a dog"]})
    assert status == 401
    status, answer = server.json("POST", "/v1/encode", {"texts": ["a dog"]},
                                 headers={"Authorization": "Bearer wrong"})
    assert status == 401
    status, answer = server.json("GET", "/v1/model", headers={"Authorization": "Bearer s3cret"})
    assert status == 200 and answer["dim"] > 0
    if CLIP_CLIENT_PYTHON.exists():
        proc = subprocess.run([str(CLIP_CLIENT_PYTHON), "-c", CLIENT_ENCODE, server.base, "Bearer nope", '["x"]'],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0


def test_v1_encode_json_octet_stream_and_urls(encoder, clipdex_cli, tmp_path, pictures, serve_folder):
    server = encoder("--allow-private-urls")
    want_texts = embed(clipdex_cli, tmp_path, texts=["a cat", "a dog"])
    want_images = embed(clipdex_cli, tmp_path, images=pictures[:2])
    status, answer = server.json("POST", "/v1/encode", {"texts": ["a cat", "a dog"]})
    assert status == 200, answer
    dim = answer["dim"]
    assert answer["count"] == 2 and len(answer["embeddings"][0]) == dim
    assert cosines(answer["embeddings"], want_texts).min() >= 0.99999

    images = [base64.b64encode(p.read_bytes()).decode() for p in pictures[:2]]
    status, headers, data = server.exchange("POST", "/v1/encode", {"images": images},
                                            headers={"Accept": "application/octet-stream"})
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert len(data) == 2 * dim * 4 and headers["X-Clipdex-Dim"] == str(dim)
    raw = np.frombuffer(data, dtype="<f4").reshape(2, dim)
    assert cosines(raw, want_images).min() >= 0.99999

    files = serve_folder(pictures[0].parent)
    status, answer = server.json("POST", "/v1/encode",
                                 {"urls": [f"{files.base}/{pictures[1].name}"]})
    assert status == 200, answer
    assert cosines(answer["embeddings"], want_images[1:]).min() >= 0.99999

    # clip-as-service's /post with a uri the server fetches itself.
    status, answer = server.json("POST", "/post", {
        "header": {"exec_endpoint": "/encode"}, "data": [
            {"id": "u", "uri": f"{files.base}/{pictures[0].name}"},
            {"id": "t", "text": "a cat"}]})
    assert status == 200, answer
    assert [d["id"] for d in answer["data"]] == ["u", "t"]
    got = [answer["data"][0]["embedding"], answer["data"][1]["embedding"]]
    assert cosines(got, [want_images[0], want_texts[0]]).min() >= 0.99999


def test_v1_model_and_health(encoder, emoji_model_dir):
    server = encoder(serve_args=["--max-batch", "8", "--max-wait-ms", "3"])
    status, model = server.json("GET", "/v1/model")
    assert status == 200
    assert model["name"] == f"dir:{emoji_model_dir.name}" or model["name"].endswith(emoji_model_dir.name)
    assert model["precision"] == "f32" and model["dim"] > 0
    assert model["preprocessing"]["image_size"] > 0
    assert model["batching"]["max_batch"] == 8 and model["batching"]["max_wait_ms"] == 3
    assert server.json("GET", "/healthz") == (200, {"status": "ok"})
    status, ready = server.json("GET", "/readyz")
    assert status == 200 and ready["status"] == "ready"
    status, spec = server.json("GET", "/openapi.json")
    assert "/post" in spec["paths"]


def test_sixteen_concurrent_clients_are_batched_and_get_their_own_answers(encoder, clipdex_cli, tmp_path):
    server = encoder(serve_args=["--max-batch", "32", "--max-wait-ms", "50"])
    texts = [f"picture number {i}" for i in range(16)]
    want = embed(clipdex_cli, tmp_path, texts=texts)
    results = [None] * 16
    barrier = threading.Barrier(16)

    def client(i):
        barrier.wait()
        results[i] = server.json("POST", "/v1/encode", {"texts": [texts[i]]})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (status, answer) in enumerate(results):
        assert status == 200, answer
        assert cosines(answer["embeddings"], want[i:i + 1]).min() >= 0.99999, i
    status, model = server.json("GET", "/v1/model")
    batching = model["batching"]
    assert batching["items"] == 16
    assert batching["batches"] <= 6, batching
    assert batching["largest_batch"] >= 4, batching


def test_concurrent_image_clients_share_one_pass_of_the_image_tower(encoder, clipdex_cli, tmp_path, pictures):
    """Each request decodes and preprocesses its image on its own thread; the batch goes through
    the image tower once, and every client still gets its own picture's vector."""
    server = encoder(serve_args=["--max-batch", "32", "--max-wait-ms", "50"])
    want = embed(clipdex_cli, tmp_path, images=pictures)
    chosen = [i % len(pictures) for i in range(12)]
    results = [None] * len(chosen)
    barrier = threading.Barrier(len(chosen))

    def client(k):
        image = base64.b64encode(pictures[chosen[k]].read_bytes()).decode()
        barrier.wait()
        results[k] = server.json("POST", "/v1/encode", {"images": [image]})

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(chosen))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (status, answer) in enumerate(results):
        assert status == 200, answer
        assert cosines(answer["embeddings"], want[chosen[k]:chosen[k] + 1]).min() >= 0.99999, k
    batching = server.json("GET", "/v1/model")[1]["batching"]
    assert batching["items"] == len(chosen)
    assert batching["largest_batch"] >= 3, batching


def test_bad_inputs_are_refused_naming_the_item_and_the_server_stays_up(encoder, pictures, serve_folder):
    server = encoder()
    good = base64.b64encode(pictures[0].read_bytes()).decode()
    status, answer = server.json("POST", "/v1/encode", {"images": [good, "not*base64"]})
    assert status == 400, answer
    assert "images[1]" in answer["error"] and "not base64" in answer["error"], answer
    assert "images[0]" not in answer["error"]

    # A huge image: a PNG whose header claims 100000 x 100000 pixels.
    big = Image.new("RGB", (1, 1))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", 100000, 100000)
    status, answer = server.json("POST", "/v1/encode", {"images": [base64.b64encode(bytes(png)).decode()]})
    assert status == 413, answer
    assert "images[0]" in answer["error"] and "exceeds the limit" in answer["error"], answer

    # A text over the limit fails alone; the request names it.
    status, answer = server.json("POST", "/v1/encode", {"texts": ["fine", "x" * 70000]})
    assert status == 413 and answer["error"].startswith("1 of 2 inputs failed: texts[1]: "), answer

    files = serve_folder(pictures[0].parent)
    status, answer = server.json("POST", "/v1/encode",
                                 {"urls": [f"{files.base}/{pictures[0].name}"]})
    assert status == 400, answer
    assert "urls[0]" in answer["error"] and "loopback address (use --allow-private-urls)" in answer["error"], answer

    status, answer = server.json("POST", "/v1/encode", raw=b"{not json")
    assert status == 400 and "not valid JSON" in answer["error"]
    status, answer = server.json("POST", "/post", {"data": [{"id": "x", "blob": "%%%"}]})
    assert status == 400 and "data[0] (id x)" in answer["header"]["status"]["description"], answer
    status, answer = server.json("POST", "/post", {"header": {"exec_endpoint": "/rank"}, "data": []})
    assert status == 501, answer

    # Still up and answering.
    status, answer = server.json("POST", "/v1/encode", {"texts": ["still here"]})
    assert status == 200 and answer["count"] == 1
