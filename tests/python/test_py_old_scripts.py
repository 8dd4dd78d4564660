"""The seeds' usage blocks, ported with only the import line changed (and the model, folders and
server named for this machine): seed 002's ImageSearchEngine sequence and seed 001's migration
guide sequence, on the embedded store and on real Milvus servers, asserting the answers."""
import shutil
import threading
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

CAT, DOG, HEART = "1f431.svg", "1f436.svg", "2764.svg"


@pytest.fixture(scope="module")
def gallery(twemoji_folder):
    return twemoji_folder("gallery", first=40, extra=(CAT, DOG, HEART))


@pytest.fixture
def served(gallery):
    """The gallery over loopback HTTP (add_image_by_url needs something to fetch)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(gallery)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SEED_002 = """
from clipdex import ImageSearchEngine, print_results
import json

engine = ImageSearchEngine(
    mode='local',
    model_name={model!r},
    collection_name={collection!r},{store}
)

# 索引图片目录
engine.index_directory({gallery!r})

# 或者索引指定图片列表，带描述
engine.index_images(
    image_paths=['cat.svg', 'dog.svg'],
    descriptions={{
        'cat.svg': '一只橘色的猫',
        'dog.svg': '一只金毛犬'
    }}
)

# 文本搜图
results = engine.search('cat', top_k=5)
print_results(results)

# 批量搜索
batch_results = engine.search_batch(
    ['cat', 'dog', 'red heart'],
    top_k=3
)

# 查看统计信息
stats = engine.get_stats()
print(f"模型: {{stats['mode']}}, 已索引 {{stats['total_images']}} 张图片")

# 关闭引擎
engine.close()
print(json.dumps({{"results": results, "batch": batch_results, "stats": stats}}))
"""


def run_seed_002(py, emoji_model, gallery, store=""):
    shutil.copyfile(gallery / CAT, py.workdir / "cat.svg")
    shutil.copyfile(gallery / DOG, py.workdir / "dog.svg")
    source = SEED_002.format(model=str(emoji_model), collection="my_images_" + uuid.uuid4().hex[:8],
                             gallery=str(gallery), store=store)
    proc = py.run(source)
    out = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    count = len(list(gallery.iterdir())) + 2
    name = lambda hit: hit["path"].rsplit("/", 1)[-1]  # noqa: E731
    # "cat" finds the cat drawing (in the gallery and as cat.svg), with the old keys
    assert name(out["results"][0]) in (CAT, "cat.svg"), out["results"]
    assert {CAT, "cat.svg"} <= {name(hit) for hit in out["results"][:3]}, out["results"]
    first = out["results"][0]
    assert {"id", "path", "url", "description", "score", "distance", "rank"} <= set(first)
    assert [hit["rank"] for hit in out["results"]] == [1, 2, 3, 4, 5]
    assert [len(hits) for hits in out["batch"]] == [3, 3, 3]
    assert name(out["batch"][1][0]) in (DOG, "dog.svg") and name(out["batch"][2][0]) == HEART, out["batch"]
    described = [hit for hit in out["results"] if name(hit) == "cat.svg"]
    assert described and described[0]["description"] == "一只橘色的猫"
    assert out["stats"]["mode"] == "local" and out["stats"]["total_images"] == count, out["stats"]
    assert f"已索引 {count} 张图片" in proc.stdout and "1. [" in proc.stdout  # print_results ran
    return out


def test_seed_002_on_the_embedded_store(py, emoji_model, gallery):
    out = run_seed_002(py, emoji_model, gallery)
    assert out["stats"]["backend"] == "embedded"
    assert (py.workdir / "clipdex.db").exists()  # the default store, ./clipdex.db


def test_seed_002_on_milvus(py, emoji_model, gallery, milvus_server):
    store = f"\n    milvus_host='127.0.0.1',\n    milvus_port='{milvus_server.port}',"
    out = run_seed_002(py, emoji_model, gallery, store)
    assert out["stats"]["backend"] == "milvus" and out["stats"]["uri"] == milvus_server.uri


SEED_001 = """
{import_line}
import json

{make_db}

# 增量写入 - 添加图片
success = db.add_image_by_url(1, {dog!r})
if success:
    print("图片添加成功")

success = db.add_image_by_url(2, {cat!r})
bad = db.add_image_by_url(3, {missing!r})

# 读取所有数据
all_data = db.get_all_data()
print(f"数据库中共有 {{len(all_data)}} 条记录")

for data in all_data:
    print(f"ID: {{data['id']}}, URL: {{data['url']}}")
    print(f"向量维度: {{len(data['vector'])}}")

# 文本搜索
results = db.search_by_text('cat', k=5)
for result in results:
    print(f"ID: {{result['id']}}, 相似度: {{result['similarity']:.4f}}")

stats = db.get_database_stats()
print(f"总记录数: {{stats['total_images']}}")
removed = db.remove_by_id(1)
removed_again = db.remove_by_id(1)
after = db.get_all_data()

# 关闭连接
db.close_connection()
print(json.dumps({{"success": success, "bad": bad, "all_data": all_data, "results": results,
                  "stats": stats, "removed": [removed, removed_again],
                  "after": [row["id"] for row in after]}}))
"""


def run_seed_001(py, served, import_line, make_db):
    source = SEED_001.format(import_line=import_line, make_db=make_db, dog=f"{served}/{DOG}",
                             cat=f"{served}/{CAT}", missing=f"{served}/no-such.svg")
    proc = py.run(source, env={"CLIPDEX_ALLOW_PRIVATE_URLS": "1"})
    out = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    assert out["success"] is True and out["bad"] is False  # booleans, as the old class returned
    assert sorted(row["id"] for row in out["all_data"]) == [1, 2]
    assert all(len(row["vector"]) == out["stats"]["dimension"] for row in out["all_data"])
    assert out["results"][0]["id"] == 2 and out["results"][0]["url"].endswith(CAT), out["results"]
    assert out["results"][0]["similarity"] > out["results"][1]["similarity"]
    assert out["stats"]["total_images"] == 2
    assert out["removed"] == [True, False] and out["after"] == [2]
    assert "数据库中共有 2 条记录" in proc.stdout and "向量维度: " in proc.stdout
    return out


def test_seed_001_cloud_vector_database_on_the_embedded_store(py, emoji_model, served):
    out = run_seed_001(py, served, "from clipdex import CloudVectorDatabase",
                       f"db = CloudVectorDatabase(db_path='cloud_vector_db', model_name={str(emoji_model)!r})")
    assert out["stats"]["backend"] == "embedded"


def test_seed_001_milvus_vector_database_on_milvus(py, emoji_model, served, milvus_server):
    host, port = urlparse(milvus_server.uri).hostname, urlparse(milvus_server.uri).port
    make_db = (f"db = MilvusVectorDatabase(\n    collection_name='cloud_{uuid.uuid4().hex[:8]}',\n"
               f"    host={host!r},\n    port='{port}',\n    model_name={str(emoji_model)!r}\n)")
    out = run_seed_001(py, served, "from clipdex import MilvusVectorDatabase", make_db)
    assert out["stats"]["backend"] == "milvus"
