#!/usr/bin/env bash
# Installs everything clipdex needs to build, test, demo and benchmark. Idempotent and
# non-interactive: packages already present are not touched, the virtual environment is rebuilt
# only when scripts/requirements-*.txt change.
#   scripts/deps.sh            Debian packages + Python test tools (.venv) + npm test data
#   scripts/deps.sh --system   Debian packages only
#   scripts/deps.sh --demo     Debian packages + the emoji drawings `make demo` indexes (npm):
#                              no .venv (6 GB with torch) and no Milvus servers
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev libomp-14-dev clang-format
    libsqlite3-dev libhnswlib-dev libfaiss-dev libopenblas-dev libopenblas0-pthread libblis-serial-dev libdnnl-dev
    nlohmann-json3-dev libcli11-dev libboost1.81-dev libgtest-dev
    libutf8proc-dev libicu-dev
    libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev librsvg2-dev libexif-dev
    libcurl4-openssl-dev libssl-dev zlib1g-dev
    libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
    python3-venv wrk
)

install_system() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "deps: installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

install_python() {
    local stamp=.venv/.clipdex-requirements
    local want
    want=$(cat scripts/requirements-*.txt | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
    echo "deps: preparing .venv (Python test and benchmark tools)"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
    install_torch_cpu
    for req in scripts/requirements-*.txt; do
        .venv/bin/pip install -q --disable-pip-version-check -r "$req"
    done
    echo "$want" > "$stamp"
}

install_torch_cpu() {
    # The reference implementations need torch, on the CPU only. PyPI's Linux wheel is the CUDA
    # build (about 5 GB of nvidia-* libraries); PyTorch's own CPU index has the same version
    # without them. Taken when reachable; otherwise requirements-test.txt gets PyPI's.
    .venv/bin/python -c "import torch" 2>/dev/null && return
    if .venv/bin/pip install -q --disable-pip-version-check --timeout 15 --retries 0 \
        --index-url https://download.pytorch.org/whl/cpu torch torchvision 2>/dev/null; then
        echo "deps: torch and torchvision: CPU builds from download.pytorch.org/whl/cpu"
    else
        echo "deps: download.pytorch.org is not reachable; torch comes from PyPI (the CUDA build, several GB)"
    fi
}

install_milvus_servers() {
    # Real Milvus servers for the integration tests, each in its own venv (their pins clash).
    scripts/milvus/venvs.sh
}

install_clip_client() {
    # The real clip_client for the encoder service's tests, in its own venv (its pins clash).
    scripts/clip_client_venv.sh
}

install_npm() {
    if ! command -v npm >/dev/null; then
        echo "deps: npm is missing; installing Debian's nodejs and npm"
        APT_PACKAGES=(nodejs npm) install_system
    fi
    # Emoji drawings and labels for the end-to-end tests (the model in ../shared was trained on them).
    local stamp=.cache/npm/.clipdex-packages
    local want
    want=$(sha256sum scripts/npm-packages.txt | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
    echo "deps: fetching npm test data"
    mkdir -p .cache/npm
    # shellcheck disable=SC2046
    npm install --silent --no-audit --no-fund --prefix .cache/npm $(grep -v '^#' scripts/npm-packages.txt)
    echo "$want" > "$stamp"
}

install_system
case "${1:-}" in
    --system) ;;
    --demo) install_npm ;;
    *)
        install_python
        install_milvus_servers
        install_clip_client
        install_npm
        ;;
esac
