#!/usr/bin/env python3
"""Embedded store vs faiss-cpu and hnswlib (PyPI) on the same vectors, same parameters.

    .venv/bin/python bench/store_bench.py --build build-store --n 100000 --dist uniform clustered

For each data set, bench/store_bench (C++) generates the vectors, queries and exact top-10
(dumped under bench/out/) and measures clipdex; this script then runs the peers on the dump
and writes bench/results/store-<date>.md with a table of ratios (clipdex / peer).

Peers run single queries in a loop (as the store's API does) for QPS-1 and latency; QPS-2 uses
two client threads for clipdex, and the peer's own batch search with two threads, which favours
the peers. Metric: cosine (inner product over normalised vectors for the peers).
"""
import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def run_clipdex(args, dist, index, dump):
    cmd = [os.path.join(args.build, "bench", "store_bench"), "--n", str(args.n), "--dim", str(args.dim),
           "--nq", str(args.nq), "--dist", dist, "--index", index, "--db", f"/tmp/clipdex_bench_{index}.db",
           "--dump", dump, "--m", "16", "--efc", "200", "--ef", str(args.ef), "--nlist", str(args.nlist),
           "--nprobe", str(args.nprobe)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


PEER_SCRIPT = r"""
import json, resource, sys, time, threading
import numpy as np
engine, index, dump, n, dim, nq, ef, nlist, nprobe = sys.argv[1:]
n, dim, nq, ef, nlist, nprobe = map(int, (n, dim, nq, ef, nlist, nprobe))
base = np.fromfile(dump + "/base.f32", dtype=np.float32).reshape(n, dim)
queries = np.fromfile(dump + "/queries.f32", dtype=np.float32).reshape(nq, dim)
gt = np.fromfile(dump + "/gt.i64", dtype=np.int64).reshape(nq, 10)
base /= np.linalg.norm(base, axis=1, keepdims=True)
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
t = time.perf_counter()
if engine == "faiss":
    import faiss
    faiss.omp_set_num_threads(2)
    if index == "FLAT":
        idx = faiss.IndexFlatIP(dim)
    elif index == "HNSW":
        idx = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = 200
    else:
        idx = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        idx.train(base)
    idx.add(base)
    if index == "HNSW": idx.hnsw.efSearch = ef
    if index == "IVF_FLAT": idx.nprobe = nprobe
    search = lambda q: idx.search(q, 10)[1]
    def set_threads(k): faiss.omp_set_num_threads(k)
else:
    import hnswlib
    idx = hnswlib.Index(space="ip", dim=dim)
    idx.init_index(max_elements=n, M=16, ef_construction=200)
    idx.set_num_threads(2)
    idx.add_items(base, np.arange(n))
    idx.set_ef(ef)
    search = lambda q: idx.knn_query(q, k=10)[0]
    def set_threads(k): idx.set_num_threads(k)
build_s = time.perf_counter() - t
set_threads(1)
lat = []
found = np.zeros((nq, 10), dtype=np.int64)
t = time.perf_counter()
for i in range(nq):
    s = time.perf_counter()
    found[i] = search(queries[i:i + 1])[0]
    lat.append((time.perf_counter() - s) * 1000)
qps1 = nq / (time.perf_counter() - t)
set_threads(2)
t = time.perf_counter()
search(queries)
qps2 = nq / (time.perf_counter() - t)
recall = float(np.mean([len(set(found[i]) & set(gt[i])) / 10 for i in range(nq)]))
lat.sort()
print(json.dumps({"engine": engine, "index": index, "build_s": build_s, "insert_rows_per_s": n / build_s,
                  "qps_1": qps1, "qps_2": qps2, "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(len(lat) * 0.99)],
                  "recall_at_10": recall,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_peer(args, engine, index, dump):
    cmd = [sys.executable, "-c", PEER_SCRIPT, engine, index, dump, str(args.n), str(args.dim), str(args.nq),
           str(args.ef), str(args.nlist), str(args.nprobe)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build-store")
    p.add_argument("--n", type=int, default=100000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--nq", type=int, default=1000)
    p.add_argument("--ef", type=int, default=64)
    p.add_argument("--nlist", type=int, default=1024)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--dist", nargs="+", default=["uniform", "clustered"])
    p.add_argument("--index", nargs="+", default=["FLAT", "HNSW", "IVF_FLAT"])
    p.add_argument("--reuse", help="directory of clipdex JSON results (<index>_<dist>.json) to reuse")
    args = p.parse_args()

    rows = []
    for dist in args.dist:
        dump = os.path.join("bench", "out", f"{dist}_{args.n}")
        for index in args.index:
            cached = os.path.join(args.reuse or "", f"{index.lower().replace('_flat', '')}_{dist}.json")
            ours = json.load(open(cached)) if args.reuse and os.path.exists(cached) else run_clipdex(args, dist, index, dump)
            rows.append((dist, index, ours))
            peers = ["faiss"] + (["hnswlib"] if index == "HNSW" else [])
            for engine in peers:
                rows.append((dist, index, run_peer(args, engine, index, dump)))
            print(json.dumps(rows[-1][2]), flush=True)

    date = datetime.date.today().isoformat()
    os.makedirs(os.path.join("bench", "results"), exist_ok=True)
    path = os.path.join("bench", "results", f"store-{date}.md")
    keys = ["insert_rows_per_s", "qps_1", "qps_2", "p50_ms", "p99_ms", "recall_at_10", "peak_rss_mib"]
    with open(path, "w") as f:
        f.write(f"# Embedded store benchmark, {date}\n\n")
        f.write(f"n={args.n}, dim={args.dim}, {args.nq} held-out queries, k=10, COSINE; HNSW M=16 efConstruction=200 "
                f"ef={args.ef}; IVF_FLAT nlist={args.nlist} nprobe={args.nprobe}. Machine: {os.cpu_count()} cores "
                "(shared with other builds while measuring). QPS-2: clipdex = 2 client threads, peers = batch search "
                "with 2 threads.\n\n")
        f.write("| data | index | engine | " + " | ".join(keys) + " | open_s | disk / raw |\n")
        f.write("|" + "---|" * (len(keys) + 5) + "\n")
        for dist, index, r in rows:
            disk = f"{r['bytes_on_disk'] / r['raw_vector_bytes']:.2f}" if "bytes_on_disk" in r else ""
            f.write(f"| {dist} | {index} | {r['engine']} | " + " | ".join(f"{r[k]:.3g}" for k in keys) +
                    f" | {r.get('open_s', float('nan')):.3g} | {disk} |\n")
        f.write("\n## Ratios clipdex / peer (>1 = clipdex higher)\n\n| data | index | peer | " + " | ".join(keys) + " |\n")
        f.write("|" + "---|" * (len(keys) + 3) + "\n")
        for dist, index, r in rows:
            if r["engine"] == "clipdex":
                continue
            ours = next(o for d, i, o in rows if d == dist and i == index and o["engine"] == "clipdex")
            f.write(f"| {dist} | {index} | {r['engine']} | " +
                    " | ".join(f"{ours[k] / r[k]:.2f}" if r[k] else "" for k in keys) + " |\n")
    print(path)


if __name__ == "__main__":
    main()
