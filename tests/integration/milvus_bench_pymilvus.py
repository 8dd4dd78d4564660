"""pymilvus's side of the Milvus client benchmark: same data shape, batches, index and queries
as tests/tools/milvus_bench.cpp.   python milvus_bench_pymilvus.py URI ROWS DIM QUERIES"""
import json
import sys
import time

import numpy as np
from pymilvus import DataType, MilvusClient


def unit_vectors(n, dim, seed):
    data = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def main():
    uri, rows, dim, queries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    client = MilvusClient(uri)
    name = "bench_pymilvus"
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("url", DataType.VARCHAR, max_length=2000)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    data = unit_vectors(rows, dim, 1)
    start = time.perf_counter()
    for begin in range(0, rows, 5000):
        client.insert(name, [{"id": i, "url": f"/bench/{i}.jpg", "vector": data[i].tolist()}
                             for i in range(begin, min(rows, begin + 5000))])
    insert_seconds = time.perf_counter() - start
    client.flush(name)
    probes = unit_vectors(queries, dim, 2)
    latencies = []
    start = time.perf_counter()
    for q in probes:
        one = time.perf_counter()
        client.search(name, data=[q.tolist()], limit=10, output_fields=["url"])
        latencies.append((time.perf_counter() - one) * 1000)
    search_seconds = time.perf_counter() - start
    client.drop_collection(name)
    print(json.dumps({"client": "pymilvus", "rows": rows, "dim": dim,
                      "insert_rows_per_s": rows / insert_seconds, "search_qps": queries / search_seconds,
                      "search_p50_ms": sorted(latencies)[len(latencies) // 2]}))


if __name__ == "__main__":
    main()
