"""Model runtime benchmark: clipdex (bench/model_bench.cpp) beside open_clip on torch, same
random-weight ViT-B-32, same thread count, same run. Writes bench/results/model-<date>.md.

usage: .venv/bin/python bench/model_bench.py [--build build] [--threads 2] [--seconds 3] [--rounds 3]

On a shared machine one run of each program moves by more than the margins of interest, so clipdex
F32 and torch run in alternating rounds: every figure is the median over rounds, and each ratio is
the median of the rounds' own ratios (each from two runs minutes apart, not hours).
"""
import argparse
import datetime
import os
import statistics
import json
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "conformance"))

import test_model_support as support  # noqa: E402

VIT_B_32 = {"embed_dim": 512, "quick_gelu": True,
            "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}


def time_runs(fn, budget, min_runs):
    runs, begin = [], time.perf_counter()
    while len(runs) < min_runs or time.perf_counter() - begin < budget:
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return sorted(runs)


def pct(runs, p):
    return runs[min(len(runs) - 1, int(p * len(runs)))]


def torch_peer(directory, threads, budget):
    """open_clip in a child process, so that its RSS is its own."""
    code = f"""
import json, time, resource, sys, torch
sys.path.insert(0, {str(REPO / 'tests' / 'conformance')!r})
import test_model_support as support
torch.set_num_threads({threads})
start = time.perf_counter()
model = support.load_open_clip(__import__('pathlib').Path({str(directory)!r}))
load_s = time.perf_counter() - start
def time_runs(fn, budget, min_runs):
    runs, begin = [], time.perf_counter()
    while len(runs) < min_runs or time.perf_counter() - begin < budget:
        s = time.perf_counter(); fn(); runs.append(time.perf_counter() - s)
    return sorted(runs)
out = {{"load_s": load_s}}
g = torch.Generator().manual_seed(1)
with torch.inference_mode():
    for b in (1, 8, 32):
        x = torch.randn(b, 3, 224, 224, generator=g)
        model.encode_image(x)
        c0 = time.process_time()
        runs = time_runs(lambda: model.encode_image(x), {budget}, 3)
        out[f"images_per_s_b{{b}}"] = b / runs[len(runs) // 2]
        out[f"cpu_ms_per_image_b{{b}}"] = 1e3 * (time.process_time() - c0) / (len(runs) * b)
    for name, tokens in (("query8", 8), ("text70", 68)):
        ids = torch.zeros(1, 77, dtype=torch.long)
        ids[0, 0] = 49406
        ids[0, 1:tokens + 1] = torch.randint(256, 49256, (tokens,), generator=g)
        ids[0, tokens + 1] = 49407
        model.encode_text(ids)
        c0 = time.process_time()
        runs = time_runs(lambda: model.encode_text(ids), {budget}, 20)
        out[name + "_cpu_ms"] = 1e3 * (time.process_time() - c0) / len(runs)
        out[name + "_p50_ms"] = 1e3 * runs[len(runs) // 2]
        out[name + "_p99_ms"] = 1e3 * runs[min(len(runs) - 1, int(0.99 * len(runs)))]
out["peak_rss_mb"] = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps(out))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="markdown file for the table (default bench/results/model-<date>.md)")
    args = ap.parse_args()
    variants = {"F32": support.checkpoint(VIT_B_32, "open_clip"), "F16": support.checkpoint(VIT_B_32, "f16")}
    exe = pathlib.Path(args.build) / "bench" / "model_bench"  # bench/CMakeLists.txt builds it there

    def run_ours(name):
        run = subprocess.run([str(exe), str(variants[name]), str(args.threads), str(args.seconds)],
                             capture_output=True, text=True, check=True)
        return json.loads(run.stdout)

    rounds = []
    for _ in range(args.rounds):
        rounds.append((run_ours("F32"), torch_peer(variants["F32"], args.threads, args.seconds)))
    f16 = run_ours("F16")
    median = lambda runs, key: statistics.median(r[key] for r in runs)
    keys = set(rounds[0][0]) & set(rounds[0][1])
    ours = {"F32": {k: median([r[0] for r in rounds], k) for k in keys}, "F16": f16}
    ours["F32"]["weight_bytes"] = rounds[0][0]["weight_bytes"]
    peer = {k: median([r[1] for r in rounds], k) for k in keys}
    ratio = {k: statistics.median(a[k] / b[k] for a, b in rounds) for k in keys}
    per_round = {k: [a[k] / b[k] for a, b in rounds] for k in keys}
    rows = [("load (s)", "load_s", False), ("images/s batch 1", "images_per_s_b1", True),
            ("images/s batch 8", "images_per_s_b8", True), ("images/s batch 32", "images_per_s_b32", True),
            ("CPU ms per image, batch 1", "cpu_ms_per_image_b1", False),
            ("CPU ms per image, batch 8", "cpu_ms_per_image_b8", False),
            ("CPU ms per image, batch 32", "cpu_ms_per_image_b32", False),
            ("text 8 words p50 (ms)", "query8_p50_ms", False), ("text 8 words p99 (ms)", "query8_p99_ms", False),
            ("text 70 tokens p50 (ms)", "text70_p50_ms", False), ("text 70 tokens p99 (ms)", "text70_p99_ms", False),
            ("text 8 words CPU ms", "query8_cpu_ms", False), ("text 70 tokens CPU ms", "text70_cpu_ms", False),
            ("peak RSS (MB)", "peak_rss_mb", False)]
    lines = [f"# Model runtime benchmark, {datetime.date.today()}", "",
             f"ViT-B-32 (QuickGELU, random weights), {args.threads} threads, same machine and run. "
             f"clipdex weight bytes (F32): {ours['F32']['weight_bytes'] / 2**20:.0f} MiB. "
             "Ratio = clipdex F32 / torch (higher is better for throughput, lower for time). "
             "CPU ms = process CPU time per item, steadier than wall time on a shared machine.", "",
             f"Machine load average at start: {os.getloadavg()[0]:.1f} (2 cores).", "",
             f"{args.rounds} rounds, clipdex F32 then torch in each; F16 once after them. Figures: medians over "
             "rounds; ratio: median of the rounds' ratios (each round's ratio listed).", "",
             "| metric | clipdex F32 | clipdex F16 | open_clip torch | ratio | ratio per round |",
             "|---|---|---|---|---|---|"]
    for label, key, _ in rows:
        a, b, t = ours["F32"][key], ours["F16"][key], peer[key]
        each = ", ".join(f"{x:.2f}" for x in per_round[key])
        lines.append(f"| {label} | {a:.3f} | {b:.3f} | {t:.3f} | {ratio[key]:.2f} | {each} |")
    text = "\n".join(lines) + "\n"
    out = pathlib.Path(args.out or REPO / "bench" / "results" / f"model-{datetime.date.today()}.md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
