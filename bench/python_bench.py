#!/usr/bin/env python3
"""The old Python stack against clipdex's Python API: the same index-then-search job, one run.

  old      what the seed scripts do: open_clip on torch, one image per encode (PIL open ->
           preprocess -> encode_image on a batch of 1 -> normalize), one pymilvus insert per image
           into Milvus Lite (`MilvusClient("bench.db")`), then text queries (tokenize ->
           encode_text -> normalize -> client.search, top 5)
  clipdex  `import clipdex; clipdex.ImageSearchEngine(model_name=DIR, uri="bench.db")`,
           `index_images(files)`, then `search(text, top_k=5)`
  cli      `clipdex index` on the same files (the engine's own "in X s"), for the Python call
           overhead: clipdex's Python indexing time over the CLI's

Same model (random-weight ViT-B-32 at F32 unless --model), same files, same thread count. Each
peer is a fresh process; import + model load is timed up to the first encoded text (clipdex loads
its model on first use). Peak RSS is the child's ru_maxrss. Rounds alternate the peers; figures
are medians over rounds and each ratio is the median of the rounds' own ratios.

usage: .venv/bin/python bench/python_bench.py --clipdex-python build/python-test-venv/bin/python \
           [--limit 200] [--rounds 3] [--threads 2] [--queries 30]
(the clipdex venv is the one tests/python makes: `pip install .` of this checkout)
"""
import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "conformance"))

QUERIES = ["a red heart", "a smiling face", "a dog", "a cat", "a yellow star", "a flag",
           "a car", "a tree", "fire", "a blue circle"]


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(**fields):
    fields["peak_rss_mb"] = rss_mb()
    print("PEER " + json.dumps(fields), flush=True)


def p50_ms(fn, queries):
    runs = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def old_child(a, files, queries):
    t0 = time.perf_counter()
    import torch
    import open_clip
    from PIL import Image
    from pymilvus import MilvusClient
    from index_bench import load_model
    torch.set_num_threads(a.threads)
    model, preprocess, dim = load_model(Path(a.model))
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    with torch.no_grad():
        model.encode_text(tokenizer(["warm up"]))
    client = MilvusClient(a.db)
    name = "image_collection"
    client.create_collection(collection_name=name, dimension=dim, auto_id=True, enable_dynamic_field=True)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    for path in files:
        with torch.no_grad():
            f = model.encode_image(preprocess(Image.open(path)).unsqueeze(0))
            f /= f.norm(dim=-1, keepdim=True)
        client.insert(collection_name=name, data=[{"vector": f.squeeze().tolist(), "filepath": path}])
    index_s = time.perf_counter() - t1

    def query(text):
        with torch.no_grad():
            f = model.encode_text(tokenizer([text]))
            f /= f.norm(dim=-1, keepdim=True)
        return client.search(collection_name=name, data=[f.squeeze().tolist()], limit=5,
                             output_fields=["filepath"])
    query_p50 = p50_ms(query, queries)
    client.close()
    report(load_s=load_s, index_s=index_s, query_p50_ms=query_p50)


def clipdex_child(a, files, queries):
    t0 = time.perf_counter()
    import clipdex
    engine = clipdex.ImageSearchEngine(model_name=a.model, uri=a.db, threads=a.threads, progress=False)
    engine.search("warm up", top_k=1)  # the model loads on first use
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = engine.index_images(files)
    index_s = time.perf_counter() - t1
    assert result["failed"] == 0, result
    query_p50 = p50_ms(lambda q: engine.search(q, top_k=5), queries)
    engine.close()
    report(load_s=load_s, index_s=index_s, query_p50_ms=query_p50)


def run_child(python, a, kind, listfile, db):
    cmd = [python, __file__, "--child", kind, "--list", str(listfile), "--db", str(db),
           "--model", a.model, "--threads", str(a.threads), "--queries", str(a.queries)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), PYTHONPATH="")
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=db.parent)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    fields = json.loads([line for line in proc.stdout.splitlines() if line.startswith("PEER ")][-1][5:])
    fields["wall_s"] = wall
    return fields


def run_cli(a, folder, db):
    cmd = [a.clipdex, "--threads", str(a.threads), "--db", str(db), "--model", a.model, "index", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"clipdex index failed:\n{proc.stderr[-3000:]}")
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("indexed:") and " in " in line:
            return {"index_s": float(line.rsplit(" in ", 1)[1].split()[0])}
    raise SystemExit("clipdex index printed no summary")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", choices=["old", "clipdex"])
    ap.add_argument("--list")
    ap.add_argument("--db")
    ap.add_argument("--model", help="model folder (default: a random-weight ViT-B-32, made once)")
    ap.add_argument("--images", default=str(ROOT / ".cache/bench-images"))
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clipdex", default=str(ROOT / "build/clipdex"))
    ap.add_argument("--clipdex-python", default=str(ROOT / "build/python-test-venv/bin/python"))
    ap.add_argument("--out", help="markdown file (default bench/results/python-<date>.md)")
    a = ap.parse_args()
    queries = (QUERIES * (a.queries // len(QUERIES) + 1))[:a.queries]
    if a.child:
        files = [line for line in Path(a.list).read_text().splitlines() if line]
        return (old_child if a.child == "old" else clipdex_child)(a, files, queries)

    label = f"`{Path(a.model).name}`" if a.model else "random-weight ViT-B-32 (QuickGELU, F32)"
    if not a.model:
        import test_model_support as support
        from model_bench import VIT_B_32
        a.model = str(support.checkpoint(VIT_B_32, "open_clip"))
    model_dir = Path(a.model)
    if not (model_dir / "vocab.json").exists():
        # The random checkpoint has no tokenizer files; CLIP's BPE (49,408 tokens, the one
        # open_clip.get_tokenizer("ViT-B-32") uses) ships with the demo model.
        bench_model = Path(tempfile.mkdtemp(prefix="python-bench-model-", dir=str(ROOT / ".cache")))
        for f in model_dir.iterdir():
            (bench_model / f.name).symlink_to(f.resolve())
        for name in ("vocab.json", "merges.txt"):
            (bench_model / name).symlink_to((ROOT / "models" / "emoji-clip-tiny-f16" / name).resolve())
        a.model = str(bench_model)
    from index_bench import list_images
    files = list_images(Path(a.images))
    if not files:
        raise SystemExit(f"no images in {a.images}: run bench/index_bench_data.py first")
    if a.limit and a.limit < len(files):
        files = [files[i * len(files) // a.limit] for i in range(a.limit)]
    work = Path(tempfile.mkdtemp(prefix="python-bench-", dir=str(ROOT / ".cache")))
    listfile = work / "files.txt"
    listfile.write_text("\n".join(files) + "\n")
    folder = work / "images"
    folder.mkdir()
    for i, path in enumerate(files):
        os.link(path, folder / f"{i:05d}{Path(path).suffix}")
    load0 = os.getloadavg()[0]
    rounds = []
    for r in range(a.rounds):
        old = run_child(sys.executable, a, "old", listfile, work / f"old-{r}.db")
        ours = run_child(a.clipdex_python, a, "clipdex", listfile, work / f"clipdex-{r}.db")
        cli = run_cli(a, folder, work / f"cli-{r}.db")
        rounds.append((old, ours, cli))
        print(f"round {r + 1}: old {len(files) / old['index_s']:.1f} img/s, clipdex "
              f"{len(files) / ours['index_s']:.1f} img/s, cli {len(files) / cli['index_s']:.1f} img/s; "
              f"query p50 {old['query_p50_ms']:.1f} / {ours['query_p50_ms']:.1f} ms", flush=True)

    med = lambda i, key: statistics.median(r[i][key] for r in rounds)
    per = lambda fn: [fn(o, c, cli) for o, c, cli in rounds]
    speed = per(lambda o, c, cli: o["index_s"] / c["index_s"])
    query = per(lambda o, c, cli: c["query_p50_ms"] / o["query_p50_ms"])
    load = per(lambda o, c, cli: c["load_s"] / o["load_s"])
    rss = per(lambda o, c, cli: c["peak_rss_mb"] / o["peak_rss_mb"])
    overhead = per(lambda o, c, cli: c["index_s"] / cli["index_s"] - 1)
    fmt = lambda xs, f="{:.2f}": ", ".join(f.format(x) for x in xs)
    n = len(files)
    lines = [
        f"# Python API benchmark, {datetime.date.today()}", "",
        f"`bench/python_bench.py`: {n} images (`.cache/bench-images`, evenly spaced), model "
        f"{label}, {a.threads} threads, {a.queries} text queries, {a.rounds} alternating "
        f"rounds (old, clipdex Python, clipdex CLI). Load average at start {load0:.1f} (2 cores).", "",
        "| | old stack (open_clip 1 image/step + pymilvus + Milvus Lite) | clipdex Python | ratio (median of rounds) | per round |",
        "|---|---:|---:|---:|---|",
        f"| images/s | {n / med(0, 'index_s'):.1f} | {n / med(1, 'index_s'):.1f} | "
        f"{statistics.median(speed):.2f}x | {fmt(speed)} |",
        f"| query p50 (ms) | {med(0, 'query_p50_ms'):.1f} | {med(1, 'query_p50_ms'):.1f} | "
        f"{statistics.median(query):.2f} | {fmt(query)} |",
        f"| import + model load (s) | {med(0, 'load_s'):.2f} | {med(1, 'load_s'):.2f} | "
        f"{statistics.median(load):.2f} | {fmt(load)} |",
        f"| peak RSS (MB) | {med(0, 'peak_rss_mb'):.0f} | {med(1, 'peak_rss_mb'):.0f} | "
        f"{statistics.median(rss):.2f} | {fmt(rss)} |", "",
        f"Python call overhead on indexing (clipdex Python `index_images` time over `clipdex index`'s "
        f"own time, same files): median {statistics.median(overhead) * 100:+.1f}% (per round "
        f"{fmt([x * 100 for x in overhead], '{:+.1f}%')}); CLI median {n / med(2, 'index_s'):.1f} images/s.", "",
        "Targets (#15): images/s >= 2x the old stack at F32, query p50 <= 0.3x, overhead <= 5%.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(a.out or ROOT / "bench" / "results" / f"python-{datetime.date.today()}.md")
    out.write_text(text)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
