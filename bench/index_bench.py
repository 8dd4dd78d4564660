#!/usr/bin/env python3
"""End-to-end indexing benchmark: image files on disk -> committed rows.

Peers, run in the same invocation on the same files, same model, same thread count:
  clipdex   `clipdex --threads T --db NEW.db --model DIR index FOLDER` (process wall time, model
            load included; the engine's own "in X s" is reported too)
  seeds     the seeds' pipeline (seed 003 encode_image + seed 001 per-image insert): PIL open ->
            open_clip preprocess -> model.encode_image on a batch of 1 -> normalize ->
            MilvusClient("bench.db").insert of that one row; collection made as seed 003 does
            (quick setup, dimension from the model, auto_id, dynamic field "filepath")
  batched   open_clip with a DataLoader (batch 32, PIL preprocessing, num_workers 0 by default),
            encode per batch, one MilvusClient insert per batch
Each Python peer is a fresh process (`python index_bench.py --peer NAME ...`) timed from spawn to
exit, so imports, model load, Milvus Lite start and the final count are all inside the figure,
as they are for clipdex.  CPU = user+sys of the child and its reaped children (getrusage).

Optionally (--search-db) the time from `clipdex search "text"` process start to printed results
on a prepared collection (p50 of --search-runs runs).

Images: bench/index_bench_data.py writes them to .cache/bench-images.
Usage:
  .venv/bin/python bench/index_bench.py --model /work/shared/models/emoji-clip-tiny \
      --images .cache/bench-images [--limit N] [--threads 2] [--search-db S.db]
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTS = {".png", ".jpg", ".jpeg"}


def list_images(folder: Path):
    return sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in EXTS)


# ---------------------------------------------------------------- Python peers (child side)

def load_model(model_dir: Path):
    import open_clip
    from safetensors.torch import load_file
    cfg = json.loads((model_dir / "open_clip_config.json").read_text())
    model = open_clip.model.CLIP(**cfg["model_cfg"])
    sd = load_file(str(model_dir / "open_clip_model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    model.eval()
    pre = cfg.get("preprocess_cfg", {})
    kw = {}
    if "interpolation" in pre:
        kw["interpolation"] = pre["interpolation"]
    if "resize_mode" in pre:
        kw["resize_mode"] = pre["resize_mode"]
    preprocess = open_clip.image_transform(cfg["model_cfg"]["vision_cfg"]["image_size"], is_train=False,
                                           mean=pre.get("mean"), std=pre.get("std"), **kw)
    return model, preprocess, cfg["model_cfg"]["embed_dim"]


def peer_main(a):
    t0 = time.perf_counter()
    import torch
    from PIL import Image
    from pymilvus import MilvusClient
    torch.set_num_threads(a.threads)
    files = [l for l in Path(a.list).read_text().splitlines() if l]
    model, preprocess, dim = load_model(Path(a.model))
    client = MilvusClient(a.db)
    name = "image_collection"
    if client.has_collection(name):
        client.drop_collection(name)
    client.create_collection(collection_name=name, dimension=dim, auto_id=True, enable_dynamic_field=True)
    t1 = time.perf_counter()
    if a.peer == "seeds":
        for path in files:
            with torch.no_grad():
                image = preprocess(Image.open(path)).unsqueeze(0)
                f = model.encode_image(image)
                f /= f.norm(dim=-1, keepdim=True)
            client.insert(collection_name=name, data=[{"vector": f.squeeze().tolist(), "filepath": path}])
    else:
        from torch.utils.data import DataLoader, Dataset

        class Files(Dataset):
            def __len__(self):
                return len(files)

            def __getitem__(self, i):
                return preprocess(Image.open(files[i])), i

        loader = DataLoader(Files(), batch_size=32, num_workers=a.workers, shuffle=False)
        for x, idx in loader:
            with torch.no_grad():
                f = model.encode_image(x)
                f /= f.norm(dim=-1, keepdim=True)
            rows = [{"vector": v, "filepath": files[i]} for v, i in zip(f.tolist(), idx.tolist())]
            client.insert(collection_name=name, data=rows)
    t2 = time.perf_counter()
    count = client.query(collection_name=name, output_fields=["count(*)"])[0]["count(*)"]
    client.close()
    t3 = time.perf_counter()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print("PEER " + json.dumps({"self_cpu_s": ru.ru_utime + ru.ru_stime, "setup_s": t1 - t0, "loop_s": t2 - t1, "close_s": t3 - t2, "rows": count}))


# ---------------------------------------------------------------- parent side

def loadavg():
    return Path("/proc/loadavg").read_text().split()[0]


def timed(cmd, env=None):
    """Run cmd; return (wall s, cpu s, stdout, stderr, load before, load after)."""
    la0 = loadavg()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
    return wall, cpu, p.stdout, p.stderr, la0, loadavg()


def thread_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    return env


def run_clipdex(a, folder, work):
    db = work / "clipdex.db"
    cmd = [a.clipdex, "--threads", str(a.threads), "--db", str(db), "--model", a.model, "index", str(folder)]
    wall, cpu, out, err, la0, la1 = timed(cmd, thread_env(a.threads))
    engine_s = None
    for line in (out + "\n" + err).splitlines():
        if line.startswith("indexed:") and " in " in line:
            engine_s = float(line.rsplit(" in ", 1)[1].split()[0])
            summary = line
    stats = subprocess.run([a.clipdex, "--db", str(db), "--model", a.model, "stats"], capture_output=True, text=True)
    return {"wall": wall, "cpu": cpu, "engine_s": engine_s, "load": f"{la0}->{la1}", "note": summary,
            "stats": stats.stdout.strip().replace("\n", "; ")}


def run_peer(a, name, listfile, work):
    db = work / f"{name}.db"
    cmd = [a.python, __file__, "--peer", name, "--list", str(listfile), "--db", str(db), "--model", a.model,
           "--threads", str(a.threads), "--workers", str(a.workers)]
    wall, cpu, out, err, la0, la1 = timed(cmd, thread_env(a.threads))
    info = json.loads([l for l in out.splitlines() if l.startswith("PEER ")][-1][5:])
    return {"wall": wall, "cpu": cpu, "load": f"{la0}->{la1}", "peer": info}


def run_search(a):
    cmd = [a.clipdex, "--threads", str(a.threads), "--db", a.search_db, "--model", a.model, "search", a.search_text]
    runs = []
    for _ in range(a.search_runs):
        wall, cpu, out, err, la0, la1 = timed(cmd, thread_env(a.threads))
        runs.append((wall, cpu, la0, out.strip().splitlines()[:2]))
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", choices=["seeds", "batched"])  # child mode
    ap.add_argument("--list")
    ap.add_argument("--db")
    ap.add_argument("--model", default="/work/shared/models/emoji-clip-tiny")
    ap.add_argument("--images", default=str(ROOT / ".cache/bench-images"))
    ap.add_argument("--limit", type=int, default=0, help="use N images evenly spaced over the sorted list, 0 = all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader num_workers of the batched peer")
    ap.add_argument("--clipdex", default=str(ROOT / "build/clipdex"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--peers", default="clipdex,seeds,batched")
    ap.add_argument("--search-db")
    ap.add_argument("--search-text", default="a red heart")
    ap.add_argument("--search-runs", type=int, default=5)
    a = ap.parse_args()
    if a.peer:
        return peer_main(a)

    a.model = str(Path(a.model).resolve())
    files = list_images(Path(a.images))
    if a.limit and a.limit < len(files):  # evenly spaced over the sorted list: all sets, sizes, formats
        files = [files[i * len(files) // a.limit] for i in range(a.limit)]
    work = Path(tempfile.mkdtemp(prefix="index-bench-", dir=str(ROOT / ".cache")))
    try:
        # clipdex indexes a folder: give it exactly these files (hard links, same bytes)
        folder = work / "images"
        folder.mkdir()
        for i, f in enumerate(files):
            os.link(f, folder / f"{i:05d}-{Path(f).name}")
        listfile = work / "files.txt"
        listfile.write_text("\n".join(str(folder / f"{i:05d}-{Path(f).name}") for i, f in enumerate(files)) + "\n")
        n = len(files)
        import hashlib
        digest = hashlib.sha256(Path(a.clipdex).read_bytes()).hexdigest()[:12]
        built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(Path(a.clipdex).stat().st_mtime))
        print(f"# {n} images, model {a.model}, threads {a.threads}, load {loadavg()}, "
              f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}", flush=True)
        print(f"# clipdex binary {a.clipdex} sha256 {digest}, built {built}", flush=True)
        res = {}
        for name in a.peers.split(","):
            if name == "clipdex":
                res[name] = run_clipdex(a, folder, work)
            else:
                res[name] = run_peer(a, name, listfile, work)
            print(f"# {name}: {json.dumps(res[name])}", flush=True)
        print()
        print("| pipeline | images | wall s | images/s | CPU s | CPU s/image | load 1m (before->after) | clipdex speed-up |")
        print("|---|---:|---:|---:|---:|---:|---|---:|")
        cd = res.get("clipdex")
        for name, r in res.items():
            ratio = f"{r['wall'] / cd['wall']:.2f}x" if cd else "-"
            label = {"clipdex": "clipdex index", "seeds": "seeds (open_clip, 1 image/step, insert per image, Milvus Lite)",
                     "batched": f"open_clip batched 32 (DataLoader workers={a.workers}, Milvus Lite)"}[name]
            print(f"| {label} | {n} | {r['wall']:.2f} | {n / r['wall']:.1f} | {r['cpu']:.2f} | {r['cpu'] / n * 1000:.2f} ms "
                  f"| {r['load']} | {ratio} |")
        if cd:
            print(f"\nclipdex engine-reported: {cd['note']}  ({n / cd['engine_s']:.1f} images/s excl. process start)")
        for name, r in res.items():
            if "peer" in r:
                p = r["peer"]
                print(f"{name}: setup (imports+model+Milvus Lite) {p['setup_s']:.2f} s, encode+insert loop {p['loop_s']:.2f} s "
                      f"({n / p['loop_s']:.1f} images/s), count+close {p['close_s']:.2f} s, rows {p['rows']}, "
                      f"CPU of the Python process itself {p['self_cpu_s']:.2f} s of {r['cpu']:.2f} s")
        if a.search_db:
            runs = run_search(a)
            walls = [r[0] for r in runs]
            print(f"\nclipdex search {a.search_text!r} on {a.search_db}: process start -> printed results")
            print("| run | wall s | CPU s | load 1m |")
            print("|---:|---:|---:|---|")
            for i, r in enumerate(runs):
                print(f"| {i + 1} | {r[0]:.3f} | {r[1]:.3f} | {r[2]} |")
            print(f"p50 {statistics.median(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f}); first lines: {runs[-1][3]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
