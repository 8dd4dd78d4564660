#!/usr/bin/env bash
# Runs every benchmark in bench/ against its peers on this machine and prints their tables;
# each driver writes bench/results/<name>-<date>.md. Benchmarks are not tests: run them on a
# quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== model: clipdex vs open_clip on torch"
$PY bench/model_bench.py --build build "$@"
echo "== store: embedded vs faiss-cpu and hnswlib"
$PY bench/store_bench.py --build build
