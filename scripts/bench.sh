#!/usr/bin/env bash
# Runs every benchmark in bench/ against its peers on this machine and prints their tables.
# The committed write-ups (bench/results/<name>-<date>.md) say which commands produced them.
# Benchmarks are not tests: run them on a quiet machine. The store and index benchmarks take
# tens of minutes at full size; each driver's --help shows how to run a part.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== model: clipdex vs open_clip on torch (ViT-B-32, random weights)"
$PY bench/model_bench.py --build build "$@"
echo "== store: embedded vs faiss-cpu, hnswlib and Milvus Lite"
$PY bench/store_bench.py --build build
echo "== store: HNSW in alternating rounds vs faiss-cpu and hnswlib (1M clustered; needs store_bench.py's 1M database)"
if [ -f .cache/bench-store/db/clustered_1000000_HNSW.db ]; then
    $PY bench/store_rounds.py --build build --rounds 5 --ef 128,256
else
    echo "skipped: run bench/store_bench.py --sizes 1000000 --dists clustered --efc 100 --indexes HNSW --reuse-db first"
fi
echo "== milvus: clipdex's Milvus client vs pymilvus on one Milvus standalone"
$PY bench/milvus_bench.py --build build --kinds standalone
echo "== index: files on disk to committed rows, clipdex vs the seeds' pipeline vs batched open_clip"
[ -d .cache/bench-images ] || $PY bench/index_bench_data.py
$PY bench/index_bench.py --clipdex build/clipdex
echo "== http: clipdex serve vs seed 001's Flask service (open_clip + Milvus Lite under gunicorn), wrk"
$PY bench/http_bench.py --build build
echo "== python: the old Python stack (open_clip + pymilvus + Milvus Lite) vs clipdex's Python API"
[ -x build/python-test-venv/bin/python ] || CLIPDEX_BUILD_DIR=$PWD/build $PY -m pytest -q tests/python/test_py_package.py -k installed
$PY bench/python_bench.py --clipdex build/clipdex --clipdex-python build/python-test-venv/bin/python
