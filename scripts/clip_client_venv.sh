#!/usr/bin/env bash
# Creates .cache/clip-client/venv: the real clip_client (PyPI clip-client) that
# tests/integration/test_encoder_service.py drives against `clipdex serve-encoder`. Its own
# environment, because its pins (scripts/requirements-clip-client.txt: jina 3.20, docarray 0.21,
# pydantic<2) clash with .venv. Idempotent: rebuilt only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/clip-client/venv
stamp=$dir/.clipdex-pins
want=$(sha256sum scripts/requirements-clip-client.txt | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "clip-client: preparing $dir (scripts/requirements-clip-client.txt)"
mkdir -p .cache/clip-client
[ -x "$dir/bin/python" ] || python3 -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-clip-client.txt
"$dir/bin/python" -c "import clip_client"
echo "$want" > "$stamp"
