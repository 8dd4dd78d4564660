"""The product end to end, with the emoji model of ../shared and Twemoji / OpenMoji drawings.

The model's README gives what the reference implementation (open_clip on librsvg renders
composited on white) reaches over the 1,890 Twemoji drawings of emojibase-data's base emoji:
recall@5 of 0.787 for English labels, 0.487 for Chinese labels, 0.295 for OpenMoji drawings
used as image queries. clipdex must reach the same within 0.03, through the CLI and through
the HTTP API, whether the gallery is indexed from a folder or added by URL.
"""
import json
import pathlib
import shutil
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
NPM = REPO / ".cache" / "npm" / "node_modules"
REFERENCE_RECALL5 = {"en": 0.787, "zh": 0.487, "openmoji": 0.295}
TOLERANCE = 0.03


def twemoji_file(hexcode: str) -> str:
    code = hexcode.lower()
    if "200d" not in code:
        code = "-".join(part for part in code.split("-") if part != "fe0f")
    return code + ".svg"


@pytest.fixture(scope="module")
def emoji():
    """Base emoji with a Twemoji drawing: hexcode -> {en, zh, twemoji, openmoji}."""
    if not (NPM / "emojibase-data").is_dir():
        pytest.fail("npm test data missing: run scripts/deps.sh")
    en = json.loads((NPM / "emojibase-data/en/data.json").read_text())
    zh = {e["hexcode"]: e["label"] for e in json.loads((NPM / "emojibase-data/zh/data.json").read_text())}
    out = {}
    for entry in en:
        svg = NPM / "@twemoji/svg" / twemoji_file(entry["hexcode"])
        if svg.exists():
            openmoji = NPM / "openmoji/color/svg" / (entry["hexcode"].upper() + ".svg")
            out[entry["hexcode"]] = {"en": entry["label"], "zh": zh.get(entry["hexcode"]), "twemoji": svg,
                                     "openmoji": openmoji if openmoji.exists() else None}
    assert len(out) == 1890, "the model README's gallery has 1,890 Twemoji drawings"
    return out


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, emoji):
    """The drawings in a folder whose path has a space and Chinese characters."""
    root = tmp_path_factory.mktemp("e2e") / "表情 gallery"
    root.mkdir()
    for hexcode, item in emoji.items():
        shutil.copyfile(item["twemoji"], root / f"{hexcode}.svg")
    return root


def hexcode_of(url: str) -> str:
    return pathlib.PurePosixPath(url.split("?")[0]).stem


def recall_at_5(ranked: dict) -> float:
    """ranked: expected hexcode -> list of hit hexcodes."""
    return sum(expected in hits[:5] for expected, hits in ranked.items()) / len(ranked)


@pytest.fixture(scope="module")
def indexed(clipdex_cli, gallery, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "emoji gallery 数据.db"
    cli = clipdex_cli(db)
    report = json.loads(cli.run("index", gallery, "--json").stdout)
    assert report["added"] == 1890 and report["failed"] == 0, report
    return cli


def cli_recall(cli, emoji, language):
    queries = {h: item[language] for h, item in emoji.items() if item[language]}
    hexcodes, texts = list(queries), list(queries.values())
    results = json.loads(cli.run("search", *texts, "-k", 5, "--json").stdout)
    assert len(results) == len(texts)
    return recall_at_5({h: [hexcode_of(hit["url"]) for hit in r["hits"]] for h, r in zip(hexcodes, results)})


@pytest.mark.parametrize("language", ["en", "zh"])
def test_cli_text_recall_matches_reference(indexed, emoji, language):
    recall = cli_recall(indexed, emoji, language)
    print(f"CLI {language} recall@5 = {recall:.3f} (reference {REFERENCE_RECALL5[language]})")
    assert abs(recall - REFERENCE_RECALL5[language]) <= TOLERANCE


def test_reindex_is_incremental(indexed, gallery):
    report = json.loads(indexed.run("index", gallery, "--json").stdout)
    assert report["unchanged"] == 1890 and report["added"] == 0 and report["updated"] == 0


@pytest.fixture(scope="module")
def server(indexed, start_server):
    srv = start_server(indexed)
    yield srv
    assert srv.stop() == 0


def http_search_recall(server, queries):
    ranked = {}
    for hexcode, text in queries.items():
        status, body = server.post("/api/milvus/search", {"text": text, "k": 5})
        assert status == 200, body
        ranked[hexcode] = [hexcode_of(hit["url"]) for hit in body["results"]]
    return recall_at_5(ranked)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_http_text_recall_matches_reference(server, emoji, language):
    queries = {h: item[language] for h, item in emoji.items() if item[language]}
    recall = http_search_recall(server, queries)
    print(f"HTTP {language} recall@5 = {recall:.3f} (reference {REFERENCE_RECALL5[language]})")
    assert abs(recall - REFERENCE_RECALL5[language]) <= TOLERANCE


def test_http_image_upload_recall_matches_reference(server, emoji):
    ranked = {}
    for hexcode, item in emoji.items():
        if item["openmoji"] is None:
            continue
        status, answer = server.upload("/api/milvus/search", item["openmoji"].name, item["openmoji"].read_bytes(),
                                       {"k": 5})
        assert status == 200, answer
        ranked[hexcode] = [hexcode_of(hit["url"]) for hit in answer["results"]]
    assert len(ranked) > 1500
    recall = recall_at_5(ranked)
    print(f"HTTP OpenMoji image recall@5 = {recall:.3f} over {len(ranked)} (reference 0.295)")
    assert abs(recall - REFERENCE_RECALL5["openmoji"]) <= TOLERANCE


@pytest.fixture(scope="module")
def file_server(gallery, serve_folder):
    """Serves the gallery over HTTP on loopback, counting requests."""
    files = serve_folder(gallery)
    yield files.base, files.hits
    files.stop()


def test_batch_add_by_url_reaches_reference_recall(clipdex_cli, start_server, emoji, file_server, tmp_path):
    base, _ = file_server
    srv = start_server(clipdex_cli(tmp_path / "by-url.db"), "--allow-private-urls")
    try:
        hexcodes = list(emoji)
        for start in range(0, len(hexcodes), 500):
            images = [{"id": i, "url": f"{base}/{h}.svg"} for i, h in enumerate(hexcodes[start:start + 500], start)]
            status, answer = srv.post("/api/milvus/batch/add", {"images": images})
            assert status == 200 and answer["succeeded"] == len(images), answer
        status, stats = srv.get("/api/milvus/stats")
        assert stats["total_records"] == 1890
        recall = http_search_recall(srv, {h: item["en"] for h, item in emoji.items()})
        print(f"by-URL en recall@5 = {recall:.3f}")
        assert abs(recall - REFERENCE_RECALL5["en"]) <= TOLERANCE
    finally:
        assert srv.stop() == 0


def test_http_endpoints_and_bad_requests(server, file_server):
    base, _ = file_server
    status, health = server.get("/api/milvus/health")
    assert status == 200 and health["status"] == "healthy" and health["service"]
    status, stats = server.get("/api/milvus/stats")
    assert status == 200 and stats["total_records"] >= 1890 and stats["dimension"] == 128
    status, info = server.get("/api/milvus/collection/info")
    assert status == 200 and {f["name"] for f in info["fields"]} >= {"id", "url", "vector", "added_at", "updated_at"}
    status, data = server.get("/api/milvus/data?include_vectors=true&limit=3&offset=2")
    assert status == 200 and data["count"] == 3 and len(data["data"][0]["vector"]) == 128
    # Private addresses are refused without --allow-private-urls: no request reaches the server.
    status, answer = server.post("/api/milvus/add", {"id": 1, "url": f"{base}/1F436.svg"})
    assert status in (400, 403) and ("private" in answer["error"] or "loopback" in answer["error"]), answer
    for body, expected in [({"text": "dog", "k": 0}, 400), ({"k": 5}, 400), ({"text": "dog", "k": "x"}, 400),
                           ({"text": "dog", "filter": "url like"}, 400), ({"text": "dog", "filter": "id >"}, 400)]:
        status, answer = server.post("/api/milvus/search", body)
        assert status == expected and answer["success"] is False and answer["error"], (body, answer)
    status, answer = server.request("POST", "/api/milvus/search", raw=b"{not json", headers={})
    assert status == 400
    status, answer = server.request("DELETE", "/api/milvus/delete", {"id": 424242424242})
    assert status == 404
    status, answer = server.get("/api/milvus/nothing-here")
    assert status == 404
    status, answer = server.get("/api/milvus/data?limit=abc")
    assert status == 400
    status, answer = server.post("/api/milvus/search", {"text": "dog face", "k": 3, "filter": 'url like "%1F43%"'})
    assert status == 200 and all("1F43" in hit["url"] for hit in answer["results"]) and len(answer["results"]) == 3


def test_add_delete_and_bad_urls_through_http(clipdex_cli, start_server, file_server, tmp_path):
    base, hits = file_server
    srv = start_server(clipdex_cli(tmp_path / "urls.db"), "--allow-private-urls")
    try:
        status, answer = srv.post("/api/milvus/add", {"id": 5, "url": f"{base}/1F436.svg"})
        assert status == 200 and answer["success"], answer
        status, answer = srv.post("/api/milvus/add", {"id": 6, "url": f"{base}/missing.svg"})
        assert status == 404 and "404" in answer["error"]
        status, answer = srv.post("/api/milvus/add", {"id": 6, "url": "file:///etc/passwd"})
        assert status == 400 and answer["success"] is False
        start = time.time()
        status, answer = srv.post("/api/milvus/add", {"id": 6, "url": f"{base}/slow/1F436.svg"})
        assert status >= 400 and time.time() - start < 39, answer
        status, data = srv.get("/api/milvus/data")
        assert [row["id"] for row in data["data"]] == [5]
        status, answer = srv.request("DELETE", "/api/milvus/delete", {"id": 5})
        assert status == 200 and answer["success"]
        status, data = srv.get("/api/milvus/data")
        assert data["count"] == 0
    finally:
        assert srv.stop() == 0


def test_bearer_token_is_required_when_set(clipdex_cli, start_server, tmp_path):
    srv = start_server(clipdex_cli(tmp_path / "auth.db"), serve_args=["--bearer-token", "s3cret"])
    try:
        status, _ = srv.get("/api/milvus/health")
        assert status == 401
        status, body = srv.request("GET", "/api/milvus/stats", headers={"Authorization": "Bearer s3cret"})
        assert status == 200 and body["total_records"] == 0
    finally:
        assert srv.stop() == 0


def test_cli_bad_inputs_are_reported_and_skipped(clipdex_cli, tmp_path):
    folder = tmp_path / "bad 输入"
    folder.mkdir()
    (folder / "text.jpg").write_text("this is not a jpeg")
    (folder / "truncated.png").write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00\x00")
    # A PNG header claiming 50000 x 50000 pixels: refused before any pixel memory is taken.
    ihdr = b"IHDR" + (50000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    import zlib
    (folder / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + len(ihdr[4:]).to_bytes(4, "big") + ihdr +
                                      zlib.crc32(ihdr).to_bytes(4, "big"))
    (folder / "external.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">'
        '<image xlink:href="file:///etc/hostname" width="64" height="64"/><rect width="10" height="10"/></svg>')
    shutil.copyfile(NPM / "@twemoji/svg/1f436.svg", folder / "狗 dog.svg")
    cli = clipdex_cli(tmp_path / "bad.db")
    proc = cli.run("index", folder, "--json", check=False)
    assert proc.returncode == 8, proc.stderr
    report = json.loads(proc.stdout)
    assert report["added"] == 2 and report["failed"] == 3, report
    reasons = {pathlib.Path(f["path"]).name: f["reason"] for f in report["failures"]}
    assert "not an image" in reasons["text.jpg"]
    assert "50000" in reasons["huge.png"]
    assert "truncated.png" in reasons
    listed = json.loads(cli.run("list", "--json").stdout)
    assert {pathlib.Path(row["url"]).name for row in listed} == {"external.svg", "狗 dog.svg"}
    missing = cli.run("search", "--image", tmp_path / "nope.png", check=False)
    assert missing.returncode != 0 and "nope.png" in missing.stderr


def test_collection_remembers_its_model(clipdex_cli, emoji_model_dir, twemoji_folder, tmp_path):
    """By what the weights are: a renamed copy is the same model, other weights are refused
    when they would encode (reading rows loads no model)."""
    db = tmp_path / "model.db"
    clipdex_cli(db).run("index", twemoji_folder("remember", extra=("2764.svg",)))
    renamed = tmp_path / "renamed-model"
    shutil.copytree(emoji_model_dir, renamed)
    assert json.loads(clipdex_cli(db, model=renamed).run("search", "red heart", "--json").stdout)[0]["hits"]
    other = pathlib.Path(__file__).resolve().parents[2] / "models" / "emoji-clip-tiny-f16"
    assert clipdex_cli(db, model=other).run("stats").returncode == 0
    proc = clipdex_cli(db, model=other).run("search", "red heart", check=False)
    assert proc.returncode != 0 and "error (conflict)" in proc.stderr and "emoji-clip-tiny" in proc.stderr
