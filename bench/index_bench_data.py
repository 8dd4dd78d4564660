#!/usr/bin/env python3
"""Deterministic image set for bench/index_bench.py.

Renders Twemoji and OpenMoji SVGs (from the npm cache) to PNG at several
sizes, composited on white, plus JPEG re-encodings of some of them.  The same
inputs always give the same files (sorted file lists, fixed strides, no
randomness).  Needs cairosvg (libcairo2) and Pillow, both in .venv (scripts/requirements-bench.txt):

    .venv/bin/python bench/index_bench_data.py

Output: .cache/bench-images/{png,jpg}/...  (git-ignored).  Default counts:
  twemoji 400 x {72,160,512} px  = 1200 PNG
  openmoji 400 x {72,160,512} px = 1200 PNG
  JPEG q85 re-encodings of every 6th PNG  = 400 JPEG
  total 2800 images
"""
import argparse
import io
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TWEMOJI = ROOT / ".cache/npm/node_modules/@twemoji/svg"
OPENMOJI = ROOT / ".cache/npm/node_modules/openmoji/color/svg"
SIZES = (72, 160, 512)


def pick(folder: Path, n: int):
    files = sorted(p for p in folder.iterdir() if p.suffix == ".svg")
    if len(files) < n:
        raise SystemExit(f"{folder}: {len(files)} SVGs < {n}")
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def render(job):
    import cairosvg
    from PIL import Image
    svg, size, out_png, out_jpg = job
    if Path(out_png).exists() and (out_jpg is None or Path(out_jpg).exists()):
        return 0
    data = cairosvg.svg2png(url=str(svg), output_width=size, output_height=size)
    im = Image.open(io.BytesIO(data)).convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(bg, im).convert("RGB")
    rgb.save(out_png, format="PNG", optimize=False)
    if out_jpg:
        rgb.save(out_jpg, format="JPEG", quality=85)
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / ".cache/bench-images"))
    ap.add_argument("--per-set", type=int, default=400)
    ap.add_argument("--jpeg-every", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    out = Path(a.out)
    (out / "png").mkdir(parents=True, exist_ok=True)
    (out / "jpg").mkdir(parents=True, exist_ok=True)
    jobs = []
    k = 0
    for tag, folder in (("tw", TWEMOJI), ("om", OPENMOJI)):
        for svg in pick(folder, a.per_set):
            for size in SIZES:
                name = f"{tag}-{svg.stem}-{size}"
                jpg = str(out / "jpg" / f"{name}.jpg") if k % a.jpeg_every == 0 else None
                jobs.append((svg, size, str(out / "png" / f"{name}.png"), jpg))
                k += 1
    with ProcessPoolExecutor(a.workers) as ex:
        done = sum(ex.map(render, jobs, chunksize=16))
    n = sum(1 for _ in out.rglob("*.png")) + sum(1 for _ in out.rglob("*.jpg"))
    print(f"rendered {done} new, {n} images under {out}")


if __name__ == "__main__":
    sys.exit(main())
