"""The Milvus backend against real servers: its own behaviour, the shared store conformance
suite, and interoperability with pymilvus in both directions."""
import json
import os
import random
import struct
import subprocess

import pytest

import pymilvus
from pymilvus import DataType, MilvusClient  # noqa: E402

import servers  # noqa: E402 - scripts/milvus, put on sys.path by conftest.py


def f32(values):
    """The float32 bit patterns of values, to compare vectors exactly."""
    return struct.pack(f"<{len(values)}f", *values)


def random_vectors(n, dim, seed):
    rng = random.Random(seed)
    return [[struct.unpack("<f", struct.pack("<f", rng.uniform(-1, 1)))[0] for _ in range(dim)] for _ in range(n)]


def test_conformance_suite(milvus_server, build_dir):
    binary = build_dir / "tests" / "test_milvus"
    env = dict(os.environ, CLIPDEX_MILVUS_URI=milvus_server.uri)
    result = subprocess.run([str(binary), "--gtest_brief=1"], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "SKIPPED" not in result.stdout


def test_round_trip_and_errors(cli, collection_name):
    vectors = random_vectors(40, 8, 1)
    cli.ok("create", collection=collection_name, dim=8, index="IVF_FLAT", metric="L2", nlist=4)
    assert cli.call("create", collection=collection_name, dim=8)["code"] == "already_exists"
    rows = [{"id": i, "url": f"/img/{i}.png", "vector": v, "n": i} for i, v in enumerate(vectors)]
    cli.ok("insert", collection=collection_name, rows=rows)
    assert cli.call("insert", collection=collection_name, rows=rows[:1])["code"] == "already_exists"
    assert cli.ok("count", collection=collection_name) == 40
    hits = cli.ok("search", collection=collection_name, vectors=[vectors[7], vectors[9]], k=3, nprobe=4)
    assert [h[0]["row"]["id"] for h in hits] == [7, 9]
    assert hits[0][0]["score"] == pytest.approx(0.0, abs=1e-5)
    filtered = cli.ok("search", collection=collection_name, vectors=[vectors[7]], k=5, filter="n >= 30", nprobe=4)
    assert len(filtered[0]) == 5 and all(h["row"]["id"] >= 30 for h in filtered[0])
    assert cli.ok("remove", collection=collection_name, ids=[1, 2, 999]) == 2
    assert cli.ok("remove_where", collection=collection_name, filter="n >= 30") == 10
    assert cli.ok("count", collection=collection_name) == 28
    assert cli.call("count", collection=collection_name, filter="n in [1,")["code"] == "invalid_input"
    assert cli.call("count", collection="no_such_collection")["code"] == "not_found"
    assert cli.call("insert", collection=collection_name, rows=[{"id": 100, "vector": [1.0]}])["code"] == "invalid_input"
    cli.ok("drop", collection=collection_name)
    assert cli.ok("has", collection=collection_name) is False


def test_query_pages_past_the_result_window(cli, collection_name):
    """Milvus caps limit + offset at 16384; larger reads walk an id cursor, in id order."""
    cli.ok("create", collection=collection_name, dim=2, index="FLAT", metric="L2")
    total = 20000
    ids = list(range(total))
    random.Random(3).shuffle(ids)
    for start in range(0, total, 5000):
        chunk = ids[start:start + 5000]
        cli.ok("insert", collection=collection_name, rows=[{"id": i, "vector": [float(i), 0.0]} for i in chunk])
    rows = cli.ok("query", collection=collection_name, fields=["id"])
    assert [r["id"] for r in rows] == list(range(total))
    page = cli.ok("query", collection=collection_name, fields=["id"], offset=16380, limit=10)
    assert [r["id"] for r in page] == list(range(16380, 16390))

    # a small limit costs a small answer, not a 16384-row window (about 50 kB of ids here)
    for fields, query_filter, expected in ((["id", "url"], "", [0, 1, 2, 3, 4]),
                                           (["id"], "id >= 12345", [12345, 12346, 12347, 12348, 12349])):
        before = cli.ok("traffic")
        page = cli.ok("query", collection=collection_name, fields=fields, filter=query_filter, limit=5)
        after = cli.ok("traffic")
        assert [r["id"] for r in page] == expected
        assert after["response_bytes"] - before["response_bytes"] < 8000, (before, after)
    cli.ok("drop", collection=collection_name)


def test_reads_see_this_clients_writes_at_once(cli, milvus_server, milvus_cli_factory, collection_name):
    """Reads wait for this client's own writes (Session consistency by write timestamps); a new
    client's first read sees what others wrote before it."""
    cli.ok("create", collection=collection_name, dim=4, index="FLAT", metric="L2")
    for i in range(5):
        vector = [float(i * 10), 1.0, 2.0, 3.0]
        cli.ok("insert", collection=collection_name, rows=[{"id": i, "vector": vector}])
        assert cli.ok("search", collection=collection_name, vectors=[vector], k=1)[0][0]["row"]["id"] == i
        assert cli.ok("count", collection=collection_name) == i + 1
    assert cli.ok("remove", collection=collection_name, ids=[0]) == 1
    assert cli.ok("count", collection=collection_name) == 4
    cli.ok("upsert", collection=collection_name, rows=[{"id": 1, "url": "/new", "vector": [0.0, 0.0, 0.0, 0.0]}])
    assert cli.ok("get", collection=collection_name, ids=[1], fields=["url"])[0]["url"] == "/new"

    cli.ok("insert", collection=collection_name, rows=[{"id": 99, "vector": [9.0, 9.0, 9.0, 9.0]}])
    later = milvus_cli_factory(milvus_server.uri)  # as the next `clipdex` command would
    assert later.ok("count", collection=collection_name) == 5
    assert later.call("insert", collection=collection_name,
                      rows=[{"id": 99, "vector": [1.0, 1.0, 1.0, 1.0]}])["code"] == "already_exists"
    cli.ok("drop", collection=collection_name)


def test_clipdex_collection_read_by_pymilvus(cli, milvus_server, collection_name):
    dim = 16
    vectors = random_vectors(10, dim, 2)
    vectors[0][0] = 1e-30
    cli.ok("create", collection=collection_name, dim=dim, index="FLAT", metric="COSINE", description="made by clipdex")
    rows = [{"id": 100 + i, "url": f"/照片/{i} 🐱.jpg", "description": f"caption {i}", "vector": v,
             "size": i * 10, "tag": "even" if i % 2 == 0 else "odd"} for i, v in enumerate(vectors)]
    cli.ok("insert", collection=collection_name, rows=rows)
    cli.ok("flush", collection=collection_name)

    client = MilvusClient(milvus_server.uri)
    described = client.describe_collection(collection_name)
    fields = {f["name"]: f["type"] for f in described["fields"]}
    assert fields == {"id": DataType.INT64, "url": DataType.VARCHAR, "description": DataType.VARCHAR,
                      "vector": DataType.FLOAT_VECTOR, "added_at": DataType.VARCHAR, "updated_at": DataType.VARCHAR}
    assert described["enable_dynamic_field"]
    got = client.query(collection_name, filter="id >= 0", output_fields=["*"], consistency_level="Strong")
    got = sorted(got, key=lambda r: r["id"])
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    for mine, theirs in zip(rows, got):
        assert f32(theirs["vector"]) == f32(mine["vector"])
        assert theirs["url"] == mine["url"] and theirs["description"] == mine["description"]
        assert theirs["size"] == mine["size"] and theirs["tag"] == mine["tag"]
        assert theirs["added_at"].endswith("Z")
    hits = client.search(collection_name, data=[vectors[3]], limit=1, output_fields=["url"])
    assert hits[0][0]["id"] == 103
    client.close()
    cli.ok("drop", collection=collection_name)


def test_pymilvus_seed001_collection_used_by_clipdex(cli, milvus_server, collection_name):
    dim = 32
    vectors = random_vectors(50, dim, 4)
    client = MilvusClient(milvus_server.uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("url", DataType.VARCHAR, max_length=2000)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("added_at", DataType.VARCHAR, max_length=50)
    schema.add_field("updated_at", DataType.VARCHAR, max_length=50)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="IVF_FLAT", metric_type="IP", params={"nlist": 1024})
    client.create_collection(collection_name, schema=schema, index_params=index)
    client.insert(collection_name, [{"id": i, "url": f"https://example.com/{i}.svg", "vector": v,
                                     "added_at": "2024-01-01T00:00:00", "updated_at": "2024-01-01T00:00:00"}
                                    for i, v in enumerate(vectors[:40])])

    described = cli.ok("describe", collection=collection_name)
    assert described["spec"]["dim"] == dim
    assert described["spec"]["metric"] == "IP"
    assert described["spec"]["index"] == "IVF_FLAT" or milvus_server.kind != "standalone"
    assert described["row_count"] == 40
    hits = cli.ok("search", collection=collection_name, vectors=[vectors[5]], k=3, nprobe=1024)
    assert hits[0][0]["row"]["id"] == 5
    assert hits[0][0]["row"]["url"] == "https://example.com/5.svg"
    cli.ok("insert", collection=collection_name,
           rows=[{"id": i, "url": f"/local/{i}.png", "vector": v} for i, v in enumerate(vectors[40:], start=40)])
    assert cli.call("insert", collection=collection_name,
                    rows=[{"id": 99, "url": "x", "vector": vectors[0], "k": 1}])["code"] == "invalid_input"

    # pymilvus made the collection with its default Bounded consistency; read as of now
    got = client.query(collection_name, filter="id >= 40", output_fields=["url", "vector", "added_at"],
                       consistency_level="Strong")
    got = sorted(got, key=lambda r: r["id"])
    assert [r["id"] for r in got] == list(range(40, 50))
    for row, vector in zip(got, vectors[40:]):
        assert f32(row["vector"]) == f32(vector)
        assert row["added_at"]
    client.drop_collection(collection_name)
    client.close()


def test_unreachable_server_is_unavailable(milvus_cli_tool):
    import servers
    port = servers.free_port()
    result = subprocess.run([str(milvus_cli_tool), f"http://127.0.0.1:{port}", "--timeout", "2"],
                            input="", capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert '"code":"unavailable"' in result.stdout


@pytest.fixture(scope="module")
def auth_server(start_milvus):
    """One Milvus standalone with authentication on (user root, password Milvus) for the auth tests."""
    if "standalone" not in os.environ.get("CLIPDEX_MILVUS_KINDS", "standalone").split(","):
        pytest.skip("Milvus standalone is not selected (CLIPDEX_MILVUS_KINDS)")
    server = start_milvus("standalone", auth=True)
    yield server
    server.stop()


def open_cli(tool, uri, *args):
    return subprocess.run([str(tool), uri, *args, "--timeout", "30"], input='{"op":"list"}\n',
                          capture_output=True, text=True, timeout=120)


def test_auth_token_accepted(auth_server, milvus_cli_factory, collection_name):
    cli = milvus_cli_factory(auth_server.uri, "--token", servers.ROOT_TOKEN)
    cli.ok("create", collection=collection_name, dim=4, index="FLAT", metric="L2")
    cli.ok("insert", collection=collection_name, rows=[{"id": 1, "url": "/a", "vector": [1.0, 0.0, 0.0, 0.0]}])
    assert cli.ok("count", collection=collection_name) == 1


@pytest.mark.parametrize("token", ["root:wrong", "nobody:Milvus", ""])
def test_auth_wrong_token_refused_clearly(auth_server, milvus_cli_tool, token):
    result = open_cli(milvus_cli_tool, auth_server.uri, *(["--token", token] if token else []))
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    message = answer["message"]
    assert auth_server.uri in message
    assert "auth" in message.lower() or "password" in message.lower() or "unauthenticated" in message.lower(), message


def test_auth_clipdex_cli_token(auth_server, build_dir, emoji_model_dir, tmp_path):
    base = [str(build_dir / "clipdex"), "--db", auth_server.uri, "--model", str(emoji_model_dir)]
    good = subprocess.run(base + ["--token", servers.ROOT_TOKEN, "list", "--json"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    # Accepted: the server answers, and a read of a collection nobody made is "not found" (exit 3).
    assert good.returncode == 3, good.stderr
    assert "not_found" in good.stderr and "does not exist" in good.stderr, good.stderr
    bad = subprocess.run(base + ["--token", "root:wrong", "list", "--json"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert bad.returncode not in (0, 1), bad.stderr
    assert auth_server.uri in bad.stderr, bad.stderr
    assert "password" in bad.stderr.lower() or "auth" in bad.stderr.lower(), bad.stderr


# Milvus Lite has one database only, so this runs on the standalone server alone.
@pytest.mark.parametrize("milvus_server", ["standalone"], indirect=True)
def test_database_in_the_uri_path_selects_it(milvus_server, milvus_cli_factory, collection_name):
    """`http://host:port/DB` sends DB as the `dbname` metadata: the collection lands in that database."""
    database = "db_" + collection_name
    admin = MilvusClient(milvus_server.uri)
    admin.create_database(database)
    try:
        cli = milvus_cli_factory(f"{milvus_server.uri}/{database}")
        cli.ok("create", collection=collection_name, dim=4, index="FLAT", metric="L2")
        cli.ok("insert", collection=collection_name, rows=[{"id": 5, "url": "/in-db", "vector": [1.0, 0.0, 0.0, 0.0]}])
        assert collection_name not in admin.list_collections()
        in_db = MilvusClient(milvus_server.uri, db_name=database)
        assert collection_name in in_db.list_collections()
        assert in_db.query(collection_name, filter="id == 5", output_fields=["url"])[0]["url"] == "/in-db"
        cli.ok("drop", collection=collection_name)
        in_db.close()
    finally:
        admin.drop_database(database)
        admin.close()
