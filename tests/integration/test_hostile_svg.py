"""SVGs that crash librsvg (a Rust panic: feConvolveMatrix order="21") or render for minutes
(feTurbulence numOctaves="100000000") cost one item, never the process (issue #12, findings 1-2).

They render in clipdex-svg-worker processes: `index` reports both files with the reason and
exits 8 with the good images indexed; `serve` answers 422 to each, keeps answering /health while
eight runaways are in flight, and stops promptly on SIGTERM with renders in flight."""
import pathlib
import shutil
import threading
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "image"
PANIC = CORPUS / "svg_convolve_order21_panic.svg"
RUNAWAY = CORPUS / "svg_turbulence_octaves_100000000.svg"
GOOD = ("2764.svg", "1f436.svg", "1f431.svg")


def test_index_reports_each_hostile_svg_and_indexes_the_rest(clipdex_cli, twemoji_folder, tmp_path):
    folder = twemoji_folder("hostile", extra=GOOD)
    shutil.copyfile(PANIC, folder / "panic.svg")
    shutil.copyfile(RUNAWAY, folder / "runaway.svg")
    cli = clipdex_cli(tmp_path / "index.db")
    start = time.monotonic()
    proc = cli.run("index", folder, check=False, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 8, (proc.returncode, proc.stderr)
    assert elapsed < 40, elapsed  # the runaway stops at the 10 s limit
    assert f"skipped {folder / 'panic.svg'}: image '{folder / 'panic.svg'}': the SVG renderer crashed" in proc.stderr, proc.stderr
    assert (f"skipped {folder / 'runaway.svg'}: image '{folder / 'runaway.svg'}': SVG rendering took longer "
            "than the limit of 10 s") in proc.stderr, proc.stderr
    assert f"indexed: {len(GOOD)} added, 0 updated, 0 unchanged, 2 failed" in proc.stdout, proc.stdout
    hits = cli.run("search", "red heart", "-k", "1").stdout
    assert "2764.svg" in hits, hits


def health_seconds(server):
    start = time.monotonic()
    with urllib.request.urlopen(server.base + "/api/milvus/health", timeout=30) as resp:
        assert resp.status == 200
    return time.monotonic() - start


def test_serve_answers_422_stays_responsive_and_stops_promptly(clipdex_cli, start_server, tmp_path):
    # 16 HTTP threads: this test is about the renders, not about the HTTP layer's own thread
    # limit (issue #12 finding 3, handled in src/server/).
    server = start_server(clipdex_cli(tmp_path / "serve.db"), serve_args=("--http-threads", "16"))
    status, body = server.upload("/api/milvus/search", "panic.svg", PANIC.read_bytes(), {"k": 3})
    assert status == 422 and "the SVG renderer crashed" in body["error"], (status, body)
    status, body = server.upload("/api/milvus/search", "runaway.svg", RUNAWAY.read_bytes(), {"k": 3})
    assert status == 422 and "took longer than the limit of 10 s" in body["error"], (status, body)

    answers = []

    def upload_runaway():
        answers.append(server.upload("/api/milvus/search", "runaway.svg", RUNAWAY.read_bytes(), {"k": 3}))

    uploads = [threading.Thread(target=upload_runaway) for _ in range(8)]
    for t in uploads:
        t.start()
    latencies = []
    while any(t.is_alive() for t in uploads):
        latencies.append(health_seconds(server))
        time.sleep(0.2)
    for t in uploads:
        t.join()
    assert len(latencies) > 20 and max(latencies) < 1.0, max(latencies)
    # Each is refused as hostile (422), or, past three time limits waiting for one of the
    # hardware-thread-count workers, as busy (503); never a 5xx crash or a hang.
    assert sorted({status for status, _ in answers}) <= [422, 503], answers
    assert sum(status == 422 for status, _ in answers) >= 2, answers

    status, body = server.upload("/api/milvus/search", "heart.svg", (REPO / ".cache" / "npm" / "node_modules" /
                                                                     "@twemoji" / "svg" / "2764.svg").read_bytes(),
                                 {"k": 3})
    assert status == 200, (status, body)

    # SIGTERM with runaway renders in flight: they are cancelled, not waited for.
    for t in [threading.Thread(target=upload_runaway) for _ in range(4)]:
        t.start()
    time.sleep(1.0)
    start = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - start < 5.0
