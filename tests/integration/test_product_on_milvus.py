"""The product unchanged on a Milvus server: `clipdex --db http://…` indexes, searches, lists and
serves exactly as on the embedded store, on every server kind the fixtures start."""
import json
import pathlib
import uuid

import pytest


@pytest.fixture(scope="module")
def gallery(twemoji_folder):
    return twemoji_folder("表情 gallery", first=80, extra=("2764.svg", "1f436.svg"))


def name_of(url):
    return pathlib.PurePosixPath(url.split("?")[0]).name


def test_cli_and_http_server_on_milvus(milvus_server, clipdex_cli, start_server, serve_folder, gallery):
    cli = clipdex_cli(milvus_server.uri)
    cli.base += ["--collection", "product_" + uuid.uuid4().hex[:10]]
    count = len(list(gallery.iterdir()))

    report = json.loads(cli.run("index", gallery, "--json").stdout)
    assert report["added"] == count and report["failed"] == 0, report
    assert json.loads(cli.run("index", gallery, "--json").stdout)["unchanged"] == count

    hits = json.loads(cli.run("search", "red heart", "-k", "3", "--json").stdout)[0]["hits"]
    assert name_of(hits[0]["url"]) == "2764.svg"
    hits = json.loads(cli.run("search", "--image", gallery / "1f436.svg", "-k", "3", "--json").stdout)[0]["hits"]
    assert name_of(hits[0]["url"]) == "1f436.svg" and hits[0]["score"] > 0.999
    assert json.loads(cli.run("stats", "--json").stdout)["total_records"] == count

    files = serve_folder(gallery)
    server = start_server(cli, "--allow-private-urls")
    try:
        status, body = server.post("/api/milvus/add", {"id": 7, "url": f"{files.base}/2764.svg",
                                                       "description": "a heart added over HTTP"})
        assert status == 200, body
        status, body = server.post("/api/milvus/search", {"text": "red heart", "k": 2, "filter": "id == 7"})
        assert status == 200 and [hit["id"] for hit in body["results"]] == [7], body
        status, body = server.get("/api/milvus/stats")
        assert status == 200 and body["total_records"] == count + 1, body
        status, body = server.request("DELETE", "/api/milvus/delete?id=7")
        assert status == 200, body
        status, body = server.get("/api/milvus/data?limit=5")
        assert status == 200 and body["count"] == 5 and 7 not in [row["id"] for row in body["data"]], body
    finally:
        assert server.stop() == 0


def test_touched_files_and_late_descriptions_on_milvus(milvus_server, clipdex_cli, gallery, tmp_path):
    """The metadata-only path (Store::update: read, patch, upsert on Milvus) keeps every vector
    and makes the new mtime and description visible to the next run and to filters."""
    cli = clipdex_cli(milvus_server.uri)
    cli.base += ["--collection", "touched_" + uuid.uuid4().hex[:10]]
    count = len(list(gallery.iterdir()))
    assert json.loads(cli.run("index", gallery, "--json").stdout)["added"] == count
    for path in gallery.iterdir():
        path.touch()
    descriptions = tmp_path / "descriptions.json"
    descriptions.write_text(json.dumps({"1f436.svg": "a late dog description"}))
    report = json.loads(cli.run("index", gallery, "--descriptions", descriptions, "--json").stdout)
    assert report["unchanged"] == count and report["added"] == report["updated"] == 0, report
    again = json.loads(cli.run("index", gallery, "--descriptions", descriptions, "--json").stdout)
    assert again["unchanged"] == count, again
    hits = json.loads(cli.run("search", "--image", gallery / "1f436.svg", "-k", "1",
                              "--filter", 'description like "%late dog%"', "--json").stdout)[0]["hits"]
    assert len(hits) == 1 and name_of(hits[0]["url"]) == "1f436.svg" and hits[0]["score"] > 0.999, hits
