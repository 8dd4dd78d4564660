"""`clipdex serve` under concurrent load and on SIGTERM.

Searches keep answering while a batch add runs (they are not queued behind it), and a SIGTERM in
the middle of a stream of writes loses none that were answered 200.
"""
import json
import pathlib
import threading
import time
import urllib.error

import pytest


@pytest.fixture(scope="module")
def drawings(twemoji_folder):
    folder = twemoji_folder("绘画 drawings", first=400, extra=("2764.svg",))
    return folder, sorted(path.name for path in folder.iterdir())


def test_searches_answer_while_a_batch_add_runs(clipdex_cli, start_server, serve_folder, drawings, tmp_path):
    folder, names = drawings
    files = serve_folder(folder)
    server = start_server(clipdex_cli(tmp_path / "busy.db"), "--allow-private-urls")
    images = [{"id": i + 1, "url": f"{files.base}/{name}"} for i, name in enumerate(names)]
    batch = {}

    def add_all():
        batch["started"] = time.monotonic()
        batch["answer"] = server.post("/api/milvus/batch/add", {"images": images})
        batch["ended"] = time.monotonic()

    adder = threading.Thread(target=add_all)
    adder.start()
    searches = []  # (start, end, status, count)
    while adder.is_alive():
        start = time.monotonic()
        status, body = server.post("/api/milvus/search", {"text": "red heart", "k": 5})
        searches.append((start, time.monotonic(), status, body.get("count")))
    adder.join()

    status, body = batch["answer"]
    assert status == 200 and body["succeeded"] == len(names), body
    during = [s for s in searches if s[0] >= batch["started"] and s[1] <= batch["ended"]]
    assert all(s[2] == 200 for s in searches), searches
    assert len(during) >= 3, f"only {len(during)} searches finished during a {batch['ended'] - batch['started']:.1f} s batch add"
    # Rows become visible as the batch goes on, never more than k per answer.
    assert all(s[3] <= 5 for s in during)
    status, body = server.post("/api/milvus/search", {"text": "red heart", "k": 1})
    assert pathlib.PurePosixPath(body["results"][0]["url"]).name == "2764.svg"
    status, body = server.get("/api/milvus/data?limit=3")
    assert status == 200 and all(row["source"] == "url" for row in body["data"]), body
    assert server.stop() == 0


def test_sigterm_keeps_every_acknowledged_write(clipdex_cli, start_server, serve_folder, drawings, tmp_path):
    folder, names = drawings
    files = serve_folder(folder)
    cli = clipdex_cli(tmp_path / "durable.db")
    server = start_server(cli, "--allow-private-urls")
    acknowledged, refused = [], []

    def write_until_refused():
        for i, name in enumerate(names):
            try:
                status, body = server.post("/api/milvus/add", {"id": 1000 + i, "url": f"{files.base}/{name}"})
            except (OSError, urllib.error.URLError):
                refused.append(1000 + i)
                return
            (acknowledged if status == 200 else refused).append(1000 + i)

    writer = threading.Thread(target=write_until_refused)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stop() == 0, server.proc.stderr.read()
    writer.join(timeout=60)

    assert len(acknowledged) >= 20
    stored = {row["id"] for row in json.loads(cli.run("list", "--limit", "-1", "--json").stdout)}
    assert set(acknowledged) <= stored, sorted(set(acknowledged) - stored)
    assert len(acknowledged) < len(names), "the server should have stopped before the writer ran out of images"
