"""HTTP benchmark: `clipdex serve` beside the service a user of the old stack would run (seed 001's
Flask endpoints on open_clip + Milvus Lite under gunicorn, bench/http_peer_flask.py), same model,
same rows, same machine, same run. Load comes from wrk (Debian's), one client thread.

Scenarios, each with and without keep-alive (`Connection: close` on every request):
  health   GET /api/milvus/health
  search   POST /api/milvus/search {"text": ..., "k": 10}, texts rotating over a list
Rounds alternate the two servers; every figure is the median over rounds and each ratio the
median of the rounds' own ratios (this VM is noisy). Writes bench/results/http-<date>.md.

usage: .venv/bin/python bench/http_bench.py [--build build] [--model DIR] [--images N]
                                            [--connections 8] [--seconds 5] [--rounds 3]
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
TWEMOJI = REPO / ".cache" / "npm" / "node_modules" / "@twemoji" / "svg"
TEXTS = ["a red heart", "a smiling face", "a dog", "a cat face", "a rocket", "a pizza",
         "一只可爱的猫咪", "a flag", "a tree", "the sun"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, proc, log, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    raise TimeoutError(url)


def prepare(a, work):
    """The same rows in both stores: clipdex indexes the drawings, Milvus Lite gets its vectors."""
    images = work / "images"
    images.mkdir()
    for svg in sorted(TWEMOJI.glob("*.svg"))[: a.images]:
        shutil.copyfile(svg, images / svg.name)
    db = work / "clipdex.db"
    cli = [str(a.build / "clipdex"), "--db", str(db), "--model", str(a.model)]
    subprocess.run(cli + ["index", str(images)], check=True, capture_output=True)
    rows = json.loads(subprocess.run(cli + ["list", "--json", "--vectors", "--limit", "-1"], check=True,
                                     capture_output=True, text=True).stdout)
    (work / "rows.json").write_text(json.dumps([{"id": r["id"], "vector": r["vector"], "url": r["url"]}
                                                for r in rows]))
    # A child process fills Milvus Lite: its server belongs to the process that opened the file.
    subprocess.run([sys.executable, str(REPO / "bench" / "http_peer_flask.py"), str(work / "lite.db"),
                    str(work / "rows.json")], check=True)
    return db, len(rows)


def start_clipdex(a, work, db):
    port = free_port()
    log = work / "clipdex.log"
    proc = subprocess.Popen([str(a.build / "clipdex"), "--db", str(db), "--model", str(a.model), "--threads",
                             str(a.threads), "serve", "--port", str(port), "--http-threads", str(a.connections)],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))
    return proc, port, log


def start_flask(a, work):
    port = free_port()
    log = work / "flask.log"
    env = dict(os.environ, CLIPDEX_PEER_MODEL=str(a.model), CLIPDEX_PEER_DB=str(work / "lite.db"),
               OMP_NUM_THREADS=str(a.threads), PYTHONPATH=str(REPO / "bench"))
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads",
                             str(a.connections), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                             "http_peer_flask:create_app()"], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))
    return proc, port, log


LATENCY_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        lat[pct] = float(value) * LATENCY_UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def lua_script(work, scenario):
    path = work / f"{scenario}.lua"
    if scenario == "search":
        texts = ", ".join(json.dumps(json.dumps({"text": t, "k": 10})) for t in TEXTS)
        path.write_text(f"""local bodies = {{ {texts} }}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/milvus/search", {{["Content-Type"] = "application/json"}}, bodies[i])
end
""")
    else:
        path.write_text('request = function() return wrk.format("GET", "/api/milvus/health") end\n')
    return path


def run_wrk(a, port, script, keepalive):
    cmd = ["wrk", "-t1", f"-c{a.connections}", f"-d{a.seconds}s", "--latency", "-s", str(script)]
    if not keepalive:
        cmd += ["-H", "Connection: close"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}"], check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", type=pathlib.Path, default=REPO / "build")
    p.add_argument("--model", type=pathlib.Path, default=REPO.parent / "shared" / "models" / "emoji-clip-tiny")
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="model threads of each server")
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=pathlib.Path, default=None)
    a = p.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="clipdex-http-bench-"))
    try:
        db, n_rows = prepare(a, work)
        servers = {"clipdex": start_clipdex(a, work, db), "flask": start_flask(a, work)}
        for name, (proc, port, log) in servers.items():
            wait_up(f"http://127.0.0.1:{port}/api/milvus/health", proc, log)
        scenarios = [(s, k) for s in ("health", "search") for k in (True, False)]
        results = {(n, s, k): [] for n in servers for s, k in scenarios}
        for r in range(a.rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(list(servers)))
            for scenario, keepalive in scenarios:
                for name in order:
                    out = run_wrk(a, servers[name][1], lua_script(work, scenario), keepalive)
                    results[(name, scenario, keepalive)].append(out)
                    print(f"round {r + 1} {name:8s} {scenario:7s} keep-alive={keepalive!s:5s} "
                          f"{out['rps']:9.1f} req/s  p50 {out['p50_ms']} ms  p99 {out['p99_ms']} ms"
                          f"  non-2xx {out['non2xx']} {out['socket_errors']}", flush=True)
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=60)
        report = write_report(a, n_rows, scenarios, results)
        print(report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_report(a, n_rows, scenarios, results):
    med = lambda xs: statistics.median(xs)  # noqa: E731
    lines = [f"# HTTP benchmark, {datetime.date.today()}", "",
             f"Machine: {platform.node()}, {os.cpu_count()} cores ({platform.processor() or platform.machine()}). "
             f"Model {a.model.name}, {n_rows} rows, wrk 1 thread x {a.connections} connections, "
             f"{a.seconds} s per run, {a.rounds} alternating rounds; each server's model on {a.threads} threads. "
             "Peer: bench/http_peer_flask.py (Flask + open_clip + Milvus Lite) under gunicorn gthread, "
             f"1 worker x {a.connections} threads.", "",
             "| scenario | keep-alive | clipdex req/s | peer req/s | ratio (median of rounds) | clipdex p50 / p99 ms "
             "| peer p50 / p99 ms | non-2xx clipdex / peer |", "|---|---|---|---|---|---|---|---|"]
    for scenario, keepalive in scenarios:
        c, f = results[("clipdex", scenario, keepalive)], results[("flask", scenario, keepalive)]
        ratios = [x["rps"] / y["rps"] for x, y in zip(c, f)]
        lines.append(
            f"| {scenario} | {'yes' if keepalive else 'no'} | {med([x['rps'] for x in c]):,.0f} | "
            f"{med([y['rps'] for y in f]):,.0f} | {med(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}) | "
            f"{med([x['p50_ms'] for x in c]):.2f} / {med([x['p99_ms'] for x in c]):.2f} | "
            f"{med([y['p50_ms'] for y in f]):.2f} / {med([y['p99_ms'] for y in f]):.2f} | "
            f"{sum(x['non2xx'] for x in c)} / {sum(y['non2xx'] for y in f)} |")
    for scenario in ("health", "search"):
        ka = med([x["rps"] for x in results[("clipdex", scenario, True)]])
        close = med([x["rps"] for x in results[("clipdex", scenario, False)]])
        lines.append("")
        lines.append(f"clipdex {scenario}: keep-alive / close = {ka / close:.2f}x")
    text = "\n".join(lines) + "\n"
    out = a.out or REPO / "bench" / "results" / f"http-{datetime.date.today()}.md"
    out.write_text(text)
    return text


if __name__ == "__main__":
    main()
