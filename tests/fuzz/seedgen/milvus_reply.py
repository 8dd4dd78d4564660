"""Writes the seed corpus of fuzz_milvus_reply: Milvus answers as Milvus 2.4 and Milvus Lite send
them (query, search, describe), plus edge cases (short columns, vector dims that overflow a
size, negative topks). Run from the repo root with the protoc-generated *_pb2 modules on
sys.path: protoc --proto_path=src/store/milvus/proto --python_out=DIR src/store/milvus/proto/*.proto
then .venv/bin/python tests/fuzz/seedgen/milvus_reply.py DIR."""
import json
import pathlib
import sys

sys.path.insert(0, sys.argv[1])
import milvus_common_pb2 as common  # noqa: E402
import milvus_schema_pb2 as schema  # noqa: E402
import milvus_service_pb2 as service  # noqa: E402

out = pathlib.Path("tests/fuzz/corpus/milvus_reply")
out.mkdir(parents=True, exist_ok=True)


def write(name, kind, pick, message):
    (out / name).write_bytes(bytes([kind, pick]) + message.SerializeToString())


def columns(target, ids, dim=4, vectors=None, dynamic=None, text=True):
    col = target.add(field_name="id", type=schema.Int64)
    col.scalars.long_data.data.extend(ids)
    if text:
        for name in ("url", "description", "added_at", "updated_at"):
            col = target.add(field_name=name, type=schema.VarChar)
            col.scalars.string_data.data.extend(f"{name}-{i}" for i in ids)
    if vectors is not False:
        col = target.add(field_name="vector", type=schema.FloatVector)
        col.vectors.dim = dim
        col.vectors.float_vector.data.extend(vectors or [0.5] * (dim * len(ids)))
    if dynamic is not False:
        col = target.add(field_name="$meta", type=schema.JSON, is_dynamic=True)
        col.scalars.json_data.data.extend(
            dynamic or [json.dumps({"color": "red", "size": i}).encode() for i in ids])


q = service.QueryResults(collection_name="images")
columns(q.fields_data, [1, 2, 3])
write("query_three_rows", 0, 1, q)
q = service.QueryResults()
columns(q.fields_data, [7], dynamic=[b'{"url": "kept-in-meta", "color": [1, 2]}'], text=False)
write("query_meta_fixed_field", 0, 0, q)
q = service.QueryResults()
columns(q.fields_data, [1, 2], vectors=[1.0, 2.0, 3.0])  # fewer floats than rows x dim
write("query_short_vector", 0, 3, q)
q = service.QueryResults()
columns(q.fields_data, [1, 2, 3], dim=0x5555555555555556, vectors=[1.0, 2.0])  # 3 x dim wraps
write("query_dim_wraps", 0, 3, q)
q = service.QueryResults()
columns(q.fields_data, [1, 2], dim=-1, vectors=[1.0])
write("query_negative_dim", 0, 1, q)
q = service.QueryResults()
col = q.fields_data.add(field_name="id", type=schema.Int64)
col.scalars.long_data.data.extend([4, 5])
col = q.fields_data.add(field_name="score", type=schema.Double)
col.scalars.double_data.data.extend([float("nan"), float("inf")])
col = q.fields_data.add(field_name="flag", type=schema.Bool)
col.scalars.bool_data.data.extend([True])  # short
write("query_scalars_short", 0, 5, q)
q = service.QueryResults()
columns(q.fields_data, [1], dynamic=[b"not json", b"[1,2]"])
write("query_bad_meta", 0, 1, q)

s = service.SearchResults(collection_name="images")
r = s.results
r.num_queries, r.top_k = 2, 2
r.ids.int_id.data.extend([11, 12, 21, 22])
r.scores.extend([0.9, 0.8, 0.7, 0.6])
r.topks.extend([2, 2])
columns(r.fields_data, [11, 12, 21, 22])
write("search_two_queries", 1, 1, s)
s = service.SearchResults()
r = s.results
r.ids.int_id.data.extend([1, 2])
r.scores.extend([0.5])  # fewer scores than ids
r.topks.extend([2])
write("search_few_scores", 1, 0, s)
s = service.SearchResults()
r = s.results
r.ids.int_id.data.extend([1, 2, 3])
r.scores.extend([0.1, 0.2, 0.3])
r.topks.extend([-1, 5, 0])
write("search_odd_topks", 1, 2, s)
s = service.SearchResults()
r = s.results
r.ids.str_id.data.extend(["a", "b"])
r.scores.extend([0.1, 0.2])
r.topks.extend([2])
write("search_string_ids", 1, 1, s)

d = service.DescribeCollectionResponse(collection_name="images")
sc = d.schema
sc.name, sc.enable_dynamic_field = "images", True
sc.fields.add(name="id", data_type=schema.Int64, is_primary_key=True)
sc.fields.add(name="url", data_type=schema.VarChar).type_params.add(key="max_length", value="2000")
sc.fields.add(name="vector", data_type=schema.FloatVector).type_params.add(key="dim", value="512")
d.properties.add(key="clipdex.model", value="ViT-B-32")
d.properties.add(key="collection.ttl.seconds", value="0")
i = service.DescribeIndexResponse()
desc = i.index_descriptions.add(field_name="vector", index_name="vector")
desc.params.add(key="index_type", value="HNSW")
desc.params.add(key="metric_type", value="COSINE")
desc.params.add(key="params", value=json.dumps({"M": 16, "efConstruction": 200}))
first = d.SerializeToString()
(out / "describe_hnsw").write_bytes(bytes([2, len(first)]) + first + i.SerializeToString())
i = service.DescribeIndexResponse()
desc = i.index_descriptions.add(field_name="vector")
desc.params.add(key="params", value='{"index_type": 5, "metric_type": ["L2"], "nlist": "x"}')
(out / "describe_odd_params").write_bytes(bytes([2, len(first)]) + first + i.SerializeToString())
d2 = service.DescribeCollectionResponse()
d2.schema.fields.add(name="vector", data_type=schema.FloatVector).type_params.add(
    key="dim", value="99999999999999999999")
first = d2.SerializeToString()
(out / "describe_huge_dim").write_bytes(bytes([2, len(first)]) + first)
