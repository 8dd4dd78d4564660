"""HNSW search speed of clipdex, faiss-cpu and hnswlib in alternating rounds, on one data set.

store_bench.py measures each engine once; on a shared VM one measurement moves 10-20% from run to
run, more than the margins the targets ask about. This script builds (or loads) the peers' indexes
once, then runs R rounds; each round measures every engine in turn, on the same queries:

    clipdex   one store_bench process per round and binary (it opens the database, so every
              round also gives an open time, with the file read into the page cache first), on
              the database store_bench.py built; its searches start once the collection's move
              to 2 MiB pages is over (store_bench.cpp), as in a server that has run a while;
    faiss     IndexHNSWFlat in this process (built once, cached in .cache/bench-store/peers/);
    hnswlib   hnswlib.Index in this process (same).

Reported: per engine the median over rounds of qps_1 (one client), qps_2_clients and qps_batch
(best of three calls inside each round), and the median over rounds of each round's own ratio
clipdex / peer.

    .venv/bin/python bench/store_rounds.py --build build --rounds 5 --ef 128,256
    .venv/bin/python bench/store_rounds.py --clipdex build/bench/store_bench /tmp/other/store_bench
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import store_bench as sb  # noqa: E402  (data, loops and peer settings shared with store_bench.py)

KEYS = ("qps_1", "qps_2_clients", "qps_batch")


def peer_index(engine, base, m, efc, path):
    """The peer's HNSW index, built as store_bench.py builds it, cached in `path`: (index, build
    seconds or None when loaded)."""
    if path.exists():
        if engine == "faiss":
            import faiss
            faiss.omp_set_num_threads(2)
            return faiss.read_index(str(path)), None
        import hnswlib
        idx = hnswlib.Index(space="ip", dim=sb.DIM)
        idx.load_index(str(path), max_elements=len(base))
        return idx, None
    t = time.perf_counter()
    idx = sb.build_peer(engine, "HNSW", base, {"m": m, "efc": efc})
    build_s = time.perf_counter() - t
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine == "faiss":
        import faiss
        faiss.write_index(idx, str(path))
    else:
        idx.save_index(str(path))
    return idx, build_s


def measure_peer(engine, idx, ef, queries, gt):
    threads, one, batch = sb.peer_calls(engine, idx, "HNSW", ef, None)
    return sb.time_searches(one, batch, queries, gt, sb.NQ, threads)


def measure_clipdex(binary, args, data, db):
    sb.read_through(db)
    cmd = [binary, "--data", str(data), "--n", str(args.n), "--dim", str(sb.DIM), "--nq", str(sb.NQ),
           "--nq-single", str(sb.NQ), "--index", "HNSW", "--db", str(db), "--m", str(args.m),
           "--efc", str(args.efc), "--ef", args.ef, "--nlist", "1024", "--nprobe", "16", "--reuse-db", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if not res.get("reused_db"):
        raise SystemExit(f"{db} was not reusable: build it first with store_bench.py --reuse-db")
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build-store")
    p.add_argument("--clipdex", nargs="+", help="store_bench binaries to compare (default: BUILD's)")
    p.add_argument("--dist", default="clustered")
    p.add_argument("--n", type=int, default=1000000)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=100)
    p.add_argument("--ef", default="128")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--peers", nargs="*", default=["faiss", "hnswlib"])
    p.add_argument("--peer-thp", choices=["always"],
                   help="load the peers' indexes with transparent huge pages `always` (switched back "
                        "after the load: their memory keeps its 2 MiB pages, clipdex runs under the "
                        "system default), to compare with clipdex's own huge pages")
    p.add_argument("--out", help="also write the JSON of every round here")
    args = p.parse_args()
    binaries = args.clipdex or [str(sb.REPO / args.build / "bench" / "store_bench")]
    efs = [int(e) for e in args.ef.split(",")]
    data = sb.dataset(args.dist, args.n)
    db = sb.CACHE / "db" / f"{args.dist}_{args.n}_HNSW.db"
    base, queries, gt = sb.load(data, args.n)
    peers = {}
    thp = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled")
    default_thp = thp.read_text().split("[")[1].split("]")[0]
    if args.peer_thp:
        thp.write_text(args.peer_thp)
    try:
        for engine in ("faiss", "hnswlib"):
            if engine in args.peers:
                path = sb.CACHE / "peers" / f"{args.dist}_{args.n}_{engine}_HNSW_m{args.m}_efc{args.efc}.bin"
                peers[engine], build_s = peer_index(engine, base, args.m, args.efc, path)
                print(f"{engine}: {'built in %.0f s' % build_s if build_s else 'loaded'} ({path.name}), "
                      f"THP {args.peer_thp or default_thp}", flush=True)
    finally:
        if args.peer_thp:
            thp.write_text(default_thp)
    with open("/proc/self/smaps_rollup") as f:
        huge = [line for line in f if line.startswith("AnonHugePages")]
    print(f"this process (peers): {huge[0].strip() if huge else 'AnonHugePages unknown'}", flush=True)
    del base
    rounds = []
    for rnd in range(args.rounds):
        row = {"round": rnd + 1, "when": time.strftime("%H:%M:%S"), "load": sb.os.getloadavg()}
        for b, binary in enumerate(binaries):
            res = measure_clipdex(binary, args, data, db)
            row[f"clipdex{b}"] = {"open_s": res["open_s"], "peak_rss_mib": res["peak_rss_mib"],
                                  "runs": {r["ef"]: r for r in res["runs"]}}
        for engine, idx in peers.items():
            row[engine] = {"runs": {ef: measure_peer(engine, idx, ef, queries, gt) for ef in efs}}
        rounds.append(row)
        print(json.dumps(row, default=str), flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"args": vars(args), "binaries": binaries, "rounds": rounds},
                                                     indent=1, default=str))
    report(rounds, binaries, list(peers), efs)


def report(rounds, binaries, peers, efs):
    names = [f"clipdex{b}" for b in range(len(binaries))]
    for b, binary in enumerate(binaries):
        opens = sorted(r[f"clipdex{b}"]["open_s"] for r in rounds)
        print(f"\nclipdex{b} = {binary}: open s per round {', '.join(f'{o:.2f}' for o in opens)} "
              f"(median {statistics.median(opens):.2f}); peak RSS "
              f"{statistics.median(r[f'clipdex{b}']['peak_rss_mib'] for r in rounds):.0f} MiB")
    print("\n| ef | engine | recall@10 | " + " | ".join(f"{k} (median)" for k in KEYS) + " |")
    print("|---|---|---|" + "---|" * len(KEYS))
    for ef in efs:
        for name in names + peers:
            runs = [r[name]["runs"][ef] for r in rounds]
            print(f"| {ef} | {name} | {runs[0]['recall_at_10']:.4f} | " +
                  " | ".join(f"{statistics.median(x[k] for x in runs):,.0f}" for k in KEYS) + " |")
    print("\n| ef | clipdex / peer | " + " | ".join(f"{k}: median ratio (per round)" for k in KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    for ef in efs:
        for name in names:
            for peer in peers:
                cells = []
                for k in KEYS:
                    per = [r[name]["runs"][ef][k] / r[peer]["runs"][ef][k] for r in rounds]
                    cells.append(f"**{statistics.median(per):.2f}** ({', '.join(f'{x:.2f}' for x in per)})")
                print(f"| {ef} | {name} / {peer} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
