#!/usr/bin/env python3
"""Embedded store vs faiss-cpu, hnswlib and Milvus Lite (2.5.x C++ server and 3.x), same data,
same parameters, same machine, one run.

    .venv/bin/python bench/store_bench.py --sizes 100000 --dists uniform clustered
    .venv/bin/python bench/store_bench.py --sizes 1000000 --dists clustered \\
        --engines clipdex faiss hnswlib --indexes FLAT HNSW --ef 64,128,256 --nq-single 200
    .venv/bin/python bench/store_bench.py --report        # table from every cached result

Data (generated once, cached in .cache/bench-store/<dist>_<n>/, git-ignored): dim 512,
L2-normalised float32; n base vectors and 1,000 held-out queries from the same distribution;
the exact top-10 by inner product (faiss IndexFlatIP). Distributions:
  uniform    components U(-1, 1), then normalised: the hardest case for any ANN index;
  clustered  a mixture of 1,000 Gaussians: centre (random unit vector) + 0.5 * a point of a
             64-dimensional subspace shared by all clusters + 0.4 * isotropic noise, then
             normalised (intra-cluster cosine ~0.7, inter-cluster ~0.0; closer to CLIP
             embeddings, whose intrinsic dimension is far below 512).

Every measurement is a separate process and is cached as JSON in .cache/bench-store/results/,
so a re-run only measures what is missing (--force re-measures what the flags select).

Fairness: every engine gets the same unit vectors, metric inner product / cosine, k=10,
HNSW M / efConstruction / ef and IVF nlist / nprobe. qps_1 and latency: one query per call,
one thread everywhere. qps_batch: one call with all 1,000 queries, 2 threads (faiss OpenMP,
hnswlib set_num_threads, clipdex's own threads; Milvus: its server's default), the best of three
calls (of one where a call takes over 20 s), as each call lasts well under a second at 100k and a
single one moves 10-20% on a shared machine; every call's rate is kept. clipdex is asked
for ids only, as the peers return; qps_1_rows is the same loop fetching the rows from SQLite.
clipdex's open (open_s: the store plus the first search, which loads the collection) is timed
with the database file in the page cache (read once before the process when --reuse-db reuses
it); its searches start once the collection's background move to 2 MiB pages is over
(paging_wait_s; store/embedded/huge_pages.h), as in a server that has been up a few seconds.
The peers use the system's transparent huge page setting (Debian's default: `madvise`, which
neither faiss nor hnswlib asks for); store_rounds.py --peer-thp always gives them huge pages too.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench-store"
RESULTS = CACHE / "results"
DIM = 512
NQ = 1000


# --- data ------------------------------------------------------------------------------------
def normalise(x):
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def generate(dist, n, rng):
    """n + NQ vectors in chunks (1M x 512 float32 is 2 GiB; chunks keep the temporaries small)."""
    total = n + NQ
    out = np.empty((total, DIM), dtype=np.float32)
    if dist == "clustered":
        centres = normalise(rng.standard_normal((1000, DIM), dtype=np.float32))
        basis = normalise(rng.standard_normal((64, DIM), dtype=np.float32))
    for start in range(0, total, 100000):
        m = min(100000, total - start)
        if dist == "uniform":
            x = rng.uniform(-1, 1, (m, DIM)).astype(np.float32)
        else:
            x = centres[rng.integers(0, 1000, m)]
            x += 0.5 * (rng.standard_normal((m, 64), dtype=np.float32) / 8.0) @ basis
            x += 0.4 * rng.standard_normal((m, DIM), dtype=np.float32) / np.sqrt(DIM, dtype=np.float32)
        out[start:start + m] = normalise(x)
    return out


def dataset(dist, n):
    d = CACHE / f"{dist}_{n}"
    if (d / "gt.i64").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    x = generate(dist, n, np.random.default_rng({"uniform": 1, "clustered": 2}[dist]))
    base, queries = x[:n], x[n:]  # queries held out: drawn with the base, never inserted
    import faiss
    faiss.omp_set_num_threads(2)
    index = faiss.IndexFlatIP(DIM)
    index.add(base)
    gt = index.search(queries, 10)[1].astype(np.int64)
    base.tofile(d / "base.f32")
    queries.tofile(d / "queries.f32")
    gt.tofile(d / "gt.i64")
    print(f"generated {d} in {time.perf_counter() - t:.1f} s", flush=True)
    return d


def load(d, n):
    base = np.fromfile(d / "base.f32", dtype=np.float32).reshape(n, DIM)
    queries = np.fromfile(d / "queries.f32", dtype=np.float32).reshape(NQ, DIM)
    gt = np.fromfile(d / "gt.i64", dtype=np.int64).reshape(NQ, 10)
    return base, queries, gt


# --- peers (each runs in its own process: python store_bench.py --peer JSON) --------------------
def recall(found, gt):
    return float(np.mean([len(set(found[i]) & set(gt[i])) / 10 for i in range(len(found))]))


def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def two_clients(search_one, queries, nq_single):
    """Queries per second with two client threads, each sending one query per call."""
    from concurrent.futures import ThreadPoolExecutor
    half = nq_single // 2
    parts = [range(0, half), range(half, nq_single)]
    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda part: [search_one(queries[i:i + 1]) for i in part], parts))
    return nq_single / (time.perf_counter() - t)


def best_batch(search_batch, queries, calls=3, long_call_s=20.0):
    """(best queries/s over up to `calls` calls with every query, that call's ids, every rate)."""
    rates, best_ids = [], None
    for _ in range(calls):
        t = time.perf_counter()
        ids = search_batch(queries)
        seconds = time.perf_counter() - t
        rates.append(len(queries) / seconds)
        if rates[-1] == max(rates):
            best_ids = ids
        if seconds > long_call_s:
            break
    return max(rates), best_ids, rates


def time_searches(search_one, search_batch, queries, gt, nq_single, threads=lambda k: None):
    """One ef's figures. `threads(k)` sets a library's own threads: 1 for the one- and two-client
    loops, 2 for the batched call (faiss OpenMP, hnswlib set_num_threads)."""
    threads(1)
    lat, found = [], np.full((nq_single, 10), -1, dtype=np.int64)
    t = time.perf_counter()
    for i in range(nq_single):
        s = time.perf_counter()
        ids = search_one(queries[i:i + 1])
        lat.append((time.perf_counter() - s) * 1000)
        found[i, :len(ids)] = ids[:10]
    qps1 = nq_single / (time.perf_counter() - t)
    qps2 = two_clients(search_one, queries, nq_single)
    threads(2)
    qpsb, all_ids, rates = best_batch(search_batch, queries)
    lat.sort()
    return {"qps_1": qps1, "qps_2_clients": qps2, "p50_ms": lat[len(lat) // 2], "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "recall_at_10_single": recall(found, gt[:nq_single]), "qps_batch": qpsb,
            "qps_batch_calls": rates, "recall_at_10": recall(all_ids, gt), "nq_single": nq_single}


def build_peer(engine, index, base, job):
    """A faiss or hnswlib index over `base` with the job's M / efConstruction / nlist."""
    if engine == "faiss":
        import faiss
        faiss.omp_set_num_threads(2)
        if index == "FLAT":
            idx = faiss.IndexFlatIP(DIM)
        elif index == "HNSW":
            idx = faiss.IndexHNSWFlat(DIM, job["m"], faiss.METRIC_INNER_PRODUCT)
            idx.hnsw.efConstruction = job["efc"]
        else:
            idx = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, job["nlist"], faiss.METRIC_INNER_PRODUCT)
            idx.train(base)
        idx.add(base)
        return idx
    import hnswlib
    idx = hnswlib.Index(space="ip", dim=DIM)
    idx.init_index(max_elements=len(base), M=job["m"], ef_construction=job["efc"])
    idx.set_num_threads(2)
    idx.add_items(base, np.arange(len(base)))
    return idx


def peer_calls(engine, idx, index, ef, nprobe):
    """(threads(k), one(q), batch(q)) for a built peer index, its search set to ef / nprobe."""
    if engine == "faiss":
        import faiss
        if index == "HNSW":
            idx.hnsw.efSearch = ef
        if index == "IVF_FLAT":
            idx.nprobe = nprobe
        return (faiss.omp_set_num_threads, lambda q: idx.search(q, 10)[1][0],
                lambda q: idx.search(q, 10)[1])
    idx.set_ef(ef)
    return idx.set_num_threads, lambda q: idx.knn_query(q, k=10)[0][0], lambda q: idx.knn_query(q, k=10)[0]


def peer_faiss_hnswlib(job, base, queries, gt):
    engine, index, n = job["engine"], job["index"], job["n"]
    res = {"engine": engine, "index": index, "runs": [], "m": job["m"], "efc": job["efc"], "nlist": job["nlist"]}
    t = time.perf_counter()
    idx = build_peer(engine, index, base, job)
    res["build_s"] = time.perf_counter() - t
    res["insert_rows_per_s"] = n / res["build_s"]
    for ef in (job["ef"] if index == "HNSW" else job["ef"][:1]):
        threads, one, batch = peer_calls(engine, idx, index, ef, job["nprobe"])
        r = time_searches(one, batch, queries, gt, job["nq_single"], threads)
        r["ef"] = ef
        res["runs"].append(r)
    res["peak_rss_mib"] = peak_rss_mib()
    return res


def peer_milvus(job, base, queries, gt):
    """One server and one insert; then every index of job["indexes"] in turn (drop, build, load,
    search), since Milvus Lite 2.5 inserts only ~200 rows/s. Returns one result per index."""
    sys.path.insert(0, str(REPO / "scripts" / "milvus"))
    import shutil
    import tempfile

    from pymilvus import DataType, MilvusClient
    from servers import Server

    kind, n = job["engine"].split("-")[1], job["n"]
    data = pathlib.Path(tempfile.mkdtemp(prefix=f"clipdex-bench-{kind}-"))
    results = []
    try:
        with Server(kind, data=data) as server:
            client = MilvusClient(server.uri, timeout=1800)
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
            client.create_collection("bench", schema=schema)
            t = time.perf_counter()
            for start in range(0, n, 5000):
                chunk = base[start:start + 5000]
                client.insert("bench", [{"id": start + i, "vector": v} for i, v in enumerate(chunk.tolist())])
            client.flush("bench")
            insert_s = time.perf_counter() - t
            for index in job["indexes"]:
                res = {"engine": job["engine"], "index": index, "runs": [], "insert_s": insert_s,
                       "m": job["m"], "efc": job["efc"], "nlist": job["nlist"],
                       "build_s": insert_s, "insert_rows_per_s": n / insert_s}
                try:
                    measure_milvus_index(client, job, index, queries, gt, res)
                except Exception as e:  # noqa: BLE001 -- Lite 2.5 refuses some index types
                    res["error"] = str(e)[:500]
                res["bytes_on_disk"] = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
                res["raw_vector_bytes"] = n * DIM * 4
                res["peak_rss_mib"] = None  # the server is another process
                results.append(res)
            client.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return results


def measure_milvus_index(client, job, index, queries, gt, res):
    client.release_collection("bench")
    for name in client.list_indexes("bench"):
        client.drop_index("bench", name)
    params = client.prepare_index_params()
    extra = {"HNSW": {"M": job["m"], "efConstruction": job["efc"]}, "IVF_FLAT": {"nlist": job["nlist"]}}
    params.add_index("vector", index_type=index, metric_type="IP", params=extra.get(index, {}))
    t = time.perf_counter()
    client.create_index("bench", params)
    # Milvus builds indexes in the background and meanwhile searches unindexed segments by brute
    # force (or an interim index): wait until every row is indexed, or its search is measured unfairly.
    while True:
        info = client.describe_index("bench", client.list_indexes("bench")[0])
        res["index_info"] = {k: info.get(k) for k in ("state", "indexed_rows", "total_rows", "pending_index_rows")}
        if info.get("state") in ("Finished", "Failed") or (
                info.get("total_rows") and info.get("indexed_rows") == info.get("total_rows")
                and not info.get("pending_index_rows")):
            break
        if time.perf_counter() - t > 3600:
            raise TimeoutError(f"index {index} not built after an hour: {info}")
        time.sleep(0.5)
    res["index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    client.load_collection("bench")
    res["open_s"] = time.perf_counter() - t  # the index is built inside load for Milvus Lite
    for ef in (job["ef"] if index == "HNSW" else job["ef"][:1]):
        sp = {"HNSW": {"ef": ef}, "IVF_FLAT": {"nprobe": job["nprobe"]}}.get(index, {})  # AUTOINDEX: defaults

        def search(q, sp=sp):
            hits = client.search("bench", data=q.tolist(), limit=10, search_params={"params": sp},
                                 output_fields=["id"])
            return [[h["id"] for h in hs] for hs in hits]

        r = time_searches(lambda q: search(q)[0], search, queries, gt, job["nq_single"])
        r["ef"] = ef
        res["runs"].append(r)


def peer_main(job):
    d = pathlib.Path(job["data"])
    base, queries, gt = load(d, job["n"])
    fn = peer_milvus if job["engine"].startswith("milvus") else peer_faiss_hnswlib
    out = fn(job, base, queries, gt)
    print(json.dumps(out if isinstance(out, list) else [out]))


# --- driver ----------------------------------------------------------------------------------
def read_through(path):
    """Reads a database once before the process that opens it, so that the open finds it in the
    page cache (as a server restarting on its own file does) rather than wherever this VM's
    page-cache trimming left it."""
    for p in (path, pathlib.Path(str(path) + "-wal")):
        if p.exists():
            with open(p, "rb", buffering=0) as f:
                while f.read(16 << 20):
                    pass


def result_path(dist, n, engine, index):
    return RESULTS / f"{dist}_{n}_{engine}_{index}.json"


def measure(args, dist, n, engine, indexes):
    """Measures `engine` on every index of `indexes` not cached yet; one process (for Milvus one
    server and one insert) for them all, clipdex one process per index."""
    todo = [i for i in indexes if args.force or not result_path(dist, n, engine, i).exists()]
    if not todo:
        return
    if engine == "clipdex" or not engine.startswith("milvus"):
        for index in todo[1:]:
            measure(args, dist, n, engine, [index])
        todo = todo[:1]
    d = dataset(dist, n)
    # Queries timed one by one: all 1,000, except where each takes tens of milliseconds (FLAT at
    # 1M, every Milvus Lite search): --nq-single of them (recall@10 is still over all 1,000).
    slow = engine.startswith("milvus") or (n >= 1000000 and todo[0] == "FLAT")
    nq_single = args.nq_single if slow else NQ
    job = {"engine": engine, "indexes": todo, "index": todo[0], "n": n, "data": str(d), "m": args.m,
           "efc": args.efc, "ef": [int(e) for e in args.ef.split(",")], "nlist": args.nlist,
           "nprobe": args.nprobe, "nq_single": nq_single}
    t = time.perf_counter()
    load_before = os.getloadavg()
    if engine == "clipdex":
        index = todo[0]
        db = CACHE / "db" / f"{dist}_{n}_{index}.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        if args.reuse_db and db.exists():
            read_through(db)
        cmd = [str(REPO / args.build / "bench" / "store_bench"), "--data", str(d), "--n", str(n), "--dim", str(DIM),
               "--nq", str(NQ), "--nq-single", str(nq_single), "--index", index, "--db", str(db), "--m", str(args.m),
               "--efc", str(args.efc), "--ef", args.ef if index == "HNSW" else args.ef.split(",")[0], "--nlist", str(args.nlist), "--nprobe", str(args.nprobe),
               "--reuse-db", "1" if args.reuse_db else "0"]
    else:
        cmd = [sys.executable, __file__, "--peer", json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"FAILED {engine} {todo} {dist} {n}: {proc.stderr[-2000:]}", flush=True)
        return
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    for res in out if isinstance(out, list) else [out]:
        path = result_path(dist, n, engine, res["index"])
        if res.get("reused_db") and path.exists():
            # a re-measure of open and search on the database an earlier run built: keep its build figures
            old = json.loads(path.read_text())
            for key in ("build_s", "insert_rows_per_s", "snapshot_s", "peak_rss_build_mib", "commit"):
                if key in old:
                    res.setdefault("build_" + key if key == "commit" else key, old[key])
        res["commit"] = commit
        res.update({"dist": dist, "n": n, "wall_s": time.perf_counter() - t, "load_before": load_before,
                    "load_after": os.getloadavg(),
                    "when": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z"})
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1))
        print(f"{dist} {n} {engine} {res['index']}: {res['wall_s']:.0f} s, "
              f"{res.get('error', '')} runs {json.dumps(res['runs'])}", flush=True)


PEERS = {"FLAT": ["faiss", "milvus-lite25", "milvus-lite3"],
         "HNSW": ["faiss", "hnswlib", "milvus-lite25", "milvus-lite3"],
         "IVF_FLAT": ["faiss", "milvus-lite25", "milvus-lite3"],
         "AUTOINDEX": ["milvus-lite25", "milvus-lite3"]}


def ratio(a, b, key):
    return f"{a[key] / b[key]:.2f}" if a.get(key) and b.get(key) else ""


def best_at_recall(rows, engine_pred, n, dist, key, floor=0.95):
    """The best `key` over every index and ef of the engines `engine_pred` accepts, among the runs
    whose recall@10 reaches `floor`: (value, description)."""
    best = (0.0, "")
    for r in rows:
        if (r["n"], r["dist"]) != (n, dist) or not engine_pred(r["engine"]) or r.get("error"):
            continue
        for run in r["runs"]:
            if run.get(key) and run["recall_at_10"] >= floor and run[key] > best[0]:
                best = (run[key], f"{r['engine']} {r['index']} ef {run['ef']} (recall {run['recall_at_10']:.3f})")
    return best


def milvus_summary(rows):
    lines = ["| n | data | mode | clipdex best index (recall >= 0.95) | Milvus Lite best index (recall >= 0.95) | ratio |",
             "|---|---|---|---|---|---|"]
    for n, dist in sorted({(r["n"], r["dist"]) for r in rows if r["engine"].startswith("milvus")}):
        for key in ("qps_1", "qps_2_clients", "qps_batch"):
            c = best_at_recall(rows, lambda e: e == "clipdex", n, dist, key)
            m = best_at_recall(rows, lambda e: e.startswith("milvus"), n, dist, key)
            if c[0] and m[0]:
                lines.append(f"| {n} | {dist} | {key} | {c[0]:.4g}: {c[1]} | {m[0]:.4g}: {m[1]} | {c[0] / m[0]:.1f}x |")
    return lines


def fmt(v):
    return "" if v is None else f"{v:.3g}"


def report(path):
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    rows.sort(key=lambda r: (r["n"], r["dist"], r["index"], r["engine"] != "clipdex", r["engine"]))
    cols = ["qps_1", "qps_2_clients", "qps_batch", "p50_ms", "p99_ms", "recall_at_10"]
    lines = ["| n | data | index | engine | ef | build s | insert rows/s | open s | " + " | ".join(cols) +
             " | peak RSS MiB | disk / raw |", "|" + "---|" * (len(cols) + 10)]
    for r in rows:
        disk = f"{r['bytes_on_disk'] / r['raw_vector_bytes']:.2f}" if r.get("bytes_on_disk") else ""
        if r.get("error"):
            lines.append(f"| {r['n']} | {r['dist']} | {r['index']} | {r['engine']} | refused: {r['error'][:120]} |")
        for run in r["runs"]:
            ef = run["ef"] if r["index"] == "HNSW" else (f"nprobe {run.get('nprobe', '')}" if r["index"] == "IVF_FLAT" else "")
            lines.append(f"| {r['n']} | {r['dist']} | {r['index']} | {r['engine']} | {ef} | {fmt(r.get('build_s'))} | "
                         f"{fmt(r.get('insert_rows_per_s'))} | {fmt(r.get('open_s'))} | " +
                         " | ".join(fmt(run.get(c)) for c in cols) + f" | {fmt(r.get('peak_rss_mib'))} | {disk} |")
    clip = [r for r in rows if r["engine"] == "clipdex"]
    extra = ["| n | data | index | ef | qps_1 ids only | qps_1 with rows | p99 ms with rows | qps 2 client threads |",
             "|---|---|---|---|---|---|---|---|"]
    for r in clip:
        for run in r["runs"]:
            extra.append(f"| {r['n']} | {r['dist']} | {r['index']} | {run['ef'] if r['index'] == 'HNSW' else ''} | "
                         f"{fmt(run['qps_1'])} | {fmt(run.get('qps_1_rows'))} | {fmt(run.get('p99_ms_rows'))} | "
                         f"{fmt(run.get('qps_2_clients'))} |")
    ratios = ["| n | data | index | ef | peer | build | qps_1 | qps 2 clients | qps_batch | p99 (peer/clipdex) | recall (clipdex-peer) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in clip:
        for p in rows:
            if p["engine"] == "clipdex" or (p["n"], p["dist"], p["index"]) != (c["n"], c["dist"], c["index"]):
                continue
            for cr in c["runs"]:
                # ef means something for HNSW only; FLAT and IVF_FLAT have one run each
                pr = next((x for x in p["runs"] if x["ef"] == cr["ef"] or c["index"] != "HNSW"), None)
                if pr is None:
                    continue
                ratios.append(f"| {c['n']} | {c['dist']} | {c['index']} | {cr['ef'] if c['index'] == 'HNSW' else ''} | "
                              f"{p['engine']} | {ratio(p, c, 'build_s')} | {cr['qps_1'] / pr['qps_1']:.2f} | "
                              f"{ratio(cr, pr, 'qps_2_clients')} | "
                              f"{cr['qps_batch'] / pr['qps_batch']:.2f} | {pr['p99_ms'] / cr['p99_ms']:.2f} | "
                              f"{cr['recall_at_10'] - pr['recall_at_10']:+.3f} |")
    text = "\n".join(["## clipdex vs Milvus Lite, each at its best index", "", *milvus_summary(rows), "",
                      "## All measurements", "", *lines, "", "## clipdex: ids only vs with rows, client threads", "",
                      *extra, "", "## Ratios clipdex / peer (>1: clipdex faster; build: peer time / clipdex time)", "",
                      *ratios, ""])
    pathlib.Path(path).write_text(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build-store")
    p.add_argument("--sizes", type=int, nargs="+", default=[100000])
    p.add_argument("--dists", nargs="+", default=["uniform", "clustered"])
    p.add_argument("--indexes", nargs="+", default=["FLAT", "HNSW", "IVF_FLAT"])
    p.add_argument("--engines", nargs="+", default=["clipdex", "faiss", "hnswlib", "milvus-lite25", "milvus-lite3"])
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=200)
    p.add_argument("--ef", default="32,64,128,256", help="HNSW ef sweep (FLAT and IVF use the first)")
    p.add_argument("--nlist", type=int, default=1024)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--nq-single", type=int, default=200, help="FLAT at n >= 1M: queries timed one by one")
    p.add_argument("--reuse-db", action="store_true", help="clipdex: keep a database built by an earlier run")
    p.add_argument("--force", action="store_true", help="re-measure cached results the flags select")
    p.add_argument("--report", metavar="MD", nargs="?", const=str(CACHE / "report.md"))
    p.add_argument("--peer", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.peer:
        peer_main(json.loads(args.peer))
        return
    if args.report:
        report(args.report)
        return
    print(f"{platform.processor() or platform.machine()}, load {os.getloadavg()}", flush=True)
    for n in args.sizes:
        for dist in args.dists:
            for engine in args.engines:
                indexes = [i for i in args.indexes
                           if (engine == "clipdex" and i != "AUTOINDEX") or engine in PEERS[i]]
                if indexes:
                    measure(args, dist, n, engine, indexes)


if __name__ == "__main__":
    main()
