#!/usr/bin/env python3
"""clipdex's Milvus backend vs pymilvus against the same Milvus server, same data, same index
and search parameters.

    flock -x /tmp/clipdex-cpu.lock .venv/bin/python bench/milvus_bench.py --build build-milvus \
        --kinds standalone lite25

For each server kind (scripts/milvus/servers.py starts it on a free loopback port) both clients
create a collection with seed 001's schema, insert the same N vectors in batches of the same size
and flush; then each searches its own collection with the same queries at k=10, one query per call
and batched, with ids only and with id+url. clipdex runs as bench/milvus_bench (C++), pymilvus
in this process with its MilvusClient and its default consistency (Bounded). Inserts run in
ABBA order (two rounds each by default: the first writer into a fresh server pays its warm-up);
searches start once both collections are indexed and after one unrecorded round each, and run
ABBA per configuration; a client's
figure is total queries / total seconds, p50 the mean of its rounds' p50s, p99 the worst.

The table goes to stdout and, with --out, to a Markdown file; ratios are clipdex / pymilvus
(>1 = clipdex better, latency ratios are pymilvus / clipdex so that >1 is better too).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "milvus"))
import servers  # noqa: E402


def write_data(args, out_dir: pathlib.Path):
    rng = np.random.default_rng(7)
    base = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.nq, args.dim)).astype(np.float32)
    out_dir.mkdir(parents=True, exist_ok=True)
    base.tofile(out_dir / "base.f32")
    queries.tofile(out_dir / "queries.f32")
    return base, queries


def clipdex(args, *params) -> dict:
    tool = pathlib.Path(args.build) / "bench" / "milvus_bench"
    result = subprocess.run([str(tool), *map(str, params)], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"milvus_bench {params[0]} failed: {result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pymilvus_insert(client, args, name, base) -> dict:
    from pymilvus import DataType, MilvusClient
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("url", DataType.VARCHAR, max_length=2000)
    schema.add_field("description", DataType.VARCHAR, max_length=65535)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=args.dim)
    schema.add_field("added_at", DataType.VARCHAR, max_length=50)
    schema.add_field("updated_at", DataType.VARCHAR, max_length=50)
    index = client.prepare_index_params()
    index.add_index("vector", index_type=args.index, metric_type=args.metric, params=index_params(args))
    client.create_collection(name, schema=schema, index_params=index)
    # the same fields clipdex writes; vectors stay numpy rows, as they come from a model
    batches = []
    for begin in range(0, args.n, args.batch):
        now = utc_now()
        batches.append([{"id": i, "url": f"/bench/{i}.jpg", "description": "", "vector": base[i],
                         "added_at": now, "updated_at": now} for i in range(begin, min(args.n, begin + args.batch))])
    start = time.perf_counter()
    for rows in batches:
        client.insert(name, rows)
    insert_s = time.perf_counter() - start
    start = time.perf_counter()
    client.flush(name)
    flush_s = time.perf_counter() - start
    count = client.query(name, output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
    return {"client": "pymilvus", "rows": args.n, "insert_s": insert_s, "flush_s": flush_s,
            "insert_rows_per_s": args.n / insert_s, "count": count}


def index_params(args) -> dict:
    if args.index == "HNSW":
        return {"M": 16, "efConstruction": 200}
    if args.index == "IVF_FLAT":
        return {"nlist": 1024}
    return {}


def pymilvus_search(client, args, name, queries, per_call, fields) -> dict:
    output = [f for f in fields if f != "id"]
    params = {"metric_type": args.metric, "params": {"nprobe": 16, "ef": max(64, args.k)}}

    def call(begin):
        return client.search(name, data=queries[begin:begin + per_call], limit=args.k, output_fields=output,
                             search_params=params)

    for i in range(args.warmup):
        call((i * per_call) % args.nq)
    latencies = []
    hits = 0
    start = time.perf_counter()
    for begin in range(0, args.nq, per_call):
        one = time.perf_counter()
        hits += sum(len(h) for h in call(begin))
        latencies.append((time.perf_counter() - one) * 1000)
    total = time.perf_counter() - start
    latencies.sort()
    pick = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))]  # noqa: E731
    return {"client": "pymilvus", "queries": args.nq, "per_call": per_call, "hits": hits,
            "qps": args.nq / total, "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


def run_kind(args, kind, data_dir, base, queries) -> list[dict]:
    from pymilvus import MilvusClient
    rows = []
    with servers.Server(kind) as server:
        uri = server.uri
        print(f"# {kind} at {uri}", file=sys.stderr)
        client = MilvusClient(uri)
        # ABBA: the first writer into a fresh server pays for its warm-up; the kept collections
        # (the last round) are the ones searched
        inserts = {"clipdex": [], "pymilvus": []}
        order = ["clipdex", "pymilvus", "pymilvus", "clipdex"] * ((args.insert_rounds + 1) // 2)
        for at, who in enumerate(order[:2 * args.insert_rounds]):
            last = at >= 2 * args.insert_rounds - 2
            name = f"bench_{who}" if last else f"bench_{who}_warm{at}"
            if who == "clipdex":
                result = clipdex(args, "insert", uri, name, data_dir / "base.f32", args.n, args.dim, args.batch,
                                 args.index, args.metric)
            else:
                result = pymilvus_insert(client, args, name, base)
            print(json.dumps(result), file=sys.stderr)
            inserts[who].append(result)
            if not last:
                client.drop_collection(name)
        mine, theirs = (mean_insert(inserts[w]) for w in ("clipdex", "pymilvus"))
        rows.append(row(kind, f"insert {args.batch}/call", mine, theirs, "insert_rows_per_s"))
        for name in ("bench_clipdex", "bench_pymilvus"):
            settle(client, name, args.n)
        # one unrecorded round each: the first searches after a flush meet the server's compactions
        clipdex(args, "search", uri, "bench_clipdex", data_dir / "queries.f32", args.nq, args.dim, 1, args.k, "id", 0)
        pymilvus_search(client, args, "bench_pymilvus", queries, 1, ["id"])
        for per_call in args.per_call:
            for fields in args.fields:
                runs = {"clipdex": [], "pymilvus": []}
                for at, who in enumerate(["clipdex", "pymilvus", "pymilvus", "clipdex"][:2 * args.search_rounds]):
                    if who == "clipdex":
                        runs[who].append(clipdex(args, "search", uri, "bench_clipdex", data_dir / "queries.f32",
                                                 args.nq, args.dim, per_call, args.k, fields, args.warmup))
                    else:
                        runs[who].append(pymilvus_search(client, args, "bench_pymilvus", queries, per_call,
                                                         fields.split(",")))
                mine, theirs = (merge_searches(runs[w]) for w in ("clipdex", "pymilvus"))
                rows.append(row(kind, f"search {per_call}/call, {fields}", mine, theirs, "qps"))
                print(json.dumps(rows[-1]), file=sys.stderr)
        rows += consistency_cost(client, args, kind)
        client.close()
    return rows


def consistency_cost(client, args, kind) -> list[dict]:
    """Why Strong reads are slow: the same 1000-id query (insert's duplicate check) per level."""
    ids = list(range(args.n, args.n + 1000))
    out = []
    for level in ("Strong", "Session", "Eventually"):
        latencies = []
        for _ in range(10):
            one = time.perf_counter()
            client.query("bench_clipdex", filter=f"id in {ids}", output_fields=["id"], consistency_level=level)
            latencies.append((time.perf_counter() - one) * 1000)
        latencies.sort()
        out.append({"server": kind, "what": f"pymilvus query of 1000 ids, {level}", "p50_ms": latencies[5]})
        print(json.dumps(out[-1]), file=sys.stderr)
    return out


def settle(client, name, rows, timeout=300):
    """Waits until the server has indexed every row after the flush, so that neither client's
    searches meet the other's background work."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            index = client.describe_index(name, client.list_indexes(name)[0])
        except Exception:  # noqa: BLE001 - a server without index progress (Milvus Lite)
            break
        if index.get("state") in (None, "Finished") and index.get("indexed_rows", rows) >= rows:
            break
        time.sleep(1)
    time.sleep(5)


def merge_searches(results) -> dict:
    """Rounds of one client: queries / total seconds, mean p50, worst p99."""
    seconds = sum(r["queries"] / r["qps"] for r in results)
    return {"rounds": results, "qps": sum(r["queries"] for r in results) / seconds,
            "p50_ms": sum(r["p50_ms"] for r in results) / len(results), "p99_ms": max(r["p99_ms"] for r in results)}


def mean_insert(results) -> dict:
    """Rows per second over all rounds (total rows / total seconds)."""
    seconds = sum(r["insert_s"] for r in results)
    rows = sum(r["rows"] for r in results)
    return {"rounds": results, "insert_s": seconds, "insert_rows_per_s": rows / seconds}


def row(kind, what, mine, theirs, main_key) -> dict:
    out = {"server": kind, "what": what, "clipdex": mine, "pymilvus": theirs,
           "ratio": mine[main_key] / theirs[main_key]}
    if "p50_ms" in mine:
        out["p50_ratio"] = theirs["p50_ms"] / mine["p50_ms"]
        out["p99_ratio"] = theirs["p99_ms"] / mine["p99_ms"]
    return out


def table(rows) -> str:
    lines = ["| server | operation | clipdex | pymilvus | ratio | p50 ms clipdex / pymilvus | p99 ms clipdex / pymilvus |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "clipdex" not in r:
            lines.append(f"| {r['server']} | {r['what']} | | | | {r['p50_ms']:.1f} ms | |")
            continue
        unit = "rows/s" if r["what"].startswith("insert") else "q/s"
        key = "insert_rows_per_s" if unit == "rows/s" else "qps"
        lat50 = lat99 = ""
        if "p50_ratio" in r:
            lat50 = f"{r['clipdex']['p50_ms']:.2f} / {r['pymilvus']['p50_ms']:.2f} ({r['p50_ratio']:.2f}x)"
            lat99 = f"{r['clipdex']['p99_ms']:.2f} / {r['pymilvus']['p99_ms']:.2f} ({r['p99_ratio']:.2f}x)"
        lines.append(f"| {r['server']} | {r['what']} | {r['clipdex'][key]:,.1f} {unit} | {r['pymilvus'][key]:,.1f} {unit} "
                     f"| {r['ratio']:.2f} | {lat50} | {lat99} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--kinds", nargs="+", default=["standalone"], choices=servers.KINDS)
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--nq", type=int, default=200)
    parser.add_argument("--per-call", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--fields", nargs="+", default=["id", "id,url"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--insert-rounds", type=int, default=2, help="inserts per client, in ABBA order")
    parser.add_argument("--search-rounds", type=int, default=2, choices=[1, 2], help="per configuration, ABBA")
    parser.add_argument("--index", default="FLAT", choices=["FLAT", "IVF_FLAT", "HNSW"])
    parser.add_argument("--metric", default="COSINE", choices=["COSINE", "IP", "L2"])
    parser.add_argument("--json", type=pathlib.Path, help="also write the raw rows as JSON")
    args = parser.parse_args()

    data_dir = REPO / "bench" / "out" / "milvus"
    base, queries = write_data(args, data_dir)
    load_before = os.getloadavg()
    rows = []
    for kind in args.kinds:
        if not servers.available(kind):
            print(f"# {kind}: not installed (scripts/milvus/venvs.sh {kind}), skipped", file=sys.stderr)
            continue
        rows += run_kind(args, kind, data_dir, base, queries)
    load_after = os.getloadavg()
    print(f"n={args.n} dim={args.dim} batch={args.batch} nq={args.nq} k={args.k} index={args.index} "
          f"metric={args.metric}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load_before": load_before, "load_after": load_after}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
