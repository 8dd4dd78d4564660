"""The Milvus backend against real servers: its own behaviour, the shared store conformance
suite, and interoperability with pymilvus in both directions."""
import os
import random
import struct
import subprocess

import pytest

pymilvus = pytest.importorskip("pymilvus")
from pymilvus import DataType, MilvusClient  # noqa: E402


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
    rows = [{"id": i, "url": f"/img/{i}.png", "vector": v, "extra": {"n": i}} for i, v in enumerate(vectors)]
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
    cli.ok("drop", collection=collection_name)


def test_clipdex_collection_read_by_pymilvus(cli, milvus_server, collection_name):
    dim = 16
    vectors = random_vectors(10, dim, 2)
    vectors[0][0] = 1e-30
    cli.ok("create", collection=collection_name, dim=dim, index="FLAT", metric="COSINE", description="made by clipdex")
    rows = [{"id": 100 + i, "url": f"/照片/{i} 🐱.jpg", "description": f"caption {i}", "vector": v,
             "extra": {"size": i * 10, "tag": "even" if i % 2 == 0 else "odd"}} for i, v in enumerate(vectors)]
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
        assert theirs["size"] == mine["extra"]["size"] and theirs["tag"] == mine["extra"]["tag"]
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
                    rows=[{"id": 99, "url": "x", "vector": vectors[0], "extra": {"k": 1}}])["code"] == "invalid_input"

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
