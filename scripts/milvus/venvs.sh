#!/usr/bin/env bash
# Creates the virtual environments that hold the Milvus servers the integration tests start.
# Each server gets its own environment because their dependency pins conflict with each other
# and with the pymilvus used as the reference client in .venv. Idempotent: an environment is
# rebuilt only when its pin below changes.
#   scripts/milvus/venvs.sh            all servers
#   scripts/milvus/venvs.sh lite3      one of: lite3 lite25 standalone
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A PINS=(
    [lite3]="milvus-lite==3.2.2 pymilvus==2.6.17"
    [lite25]="milvus-lite==2.5.1"
    [standalone]="milvus==2.3.5"
)

make_venv() {
    local name=$1 pin=${PINS[$1]}
    local dir=.cache/milvus/venv-$name stamp=.cache/milvus/venv-$name/.clipdex-pin
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pin" ]; then return; fi
    echo "milvus: preparing $dir ($pin)"
    mkdir -p .cache/milvus
    [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/pip" install -q --disable-pip-version-check $pin
    echo "$pin" > "$stamp"
}

if (($#)); then
    for name in "$@"; do make_venv "$name"; done
else
    for name in lite3 lite25 standalone; do make_venv "$name"; done
fi
