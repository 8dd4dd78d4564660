"""Fixtures of the Python package tests: a fresh virtual environment with clipdex installed from
the checkout by pip (not the build tree), a runner for scripts inside it, the emoji model, Twemoji
drawings and real Milvus servers (scripts/milvus/servers.py, as tests/integration uses them).

The virtual environment lives in build/python-test-venv and is kept while pyproject.toml and the
sources it is built from are unchanged (a hash of them is stamped inside it); pip's own build
folder (build/python/<wheel tag>, pyproject.toml) makes a rebuild incremental."""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "milvus"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
import servers  # noqa: E402
from references import missing_reference  # noqa: E402
from emoji_data import twemoji_maker  # noqa: E402

KINDS = [k for k in os.environ.get("CLIPDEX_MILVUS_KINDS", ",".join(servers.KINDS)).split(",") if k]
# What the installed package is built from: a change in any of these makes a new venv.
PACKAGE_INPUTS = ("pyproject.toml", "CMakeLists.txt", "cmake", "include", "src", "python",
                  "scripts/requirements-build.txt")


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_INPUTS:
        root = REPO / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(REPO)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def venv_python() -> pathlib.Path:
    """The python of a virtual environment holding `pip install <checkout>`."""
    venv = pathlib.Path(os.environ.get("CLIPDEX_PYTHON_TEST_VENV", REPO / "build" / "python-test-venv"))
    python = venv / "bin" / "python"
    stamp = venv / "clipdex-inputs.sha256"
    digest = inputs_digest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    if shutil.which("ccache"):
        env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
        env.setdefault("CMAKE_C_COMPILER_LAUNCHER", "ccache")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # The build requirements first, so that the package builds without isolation in this venv
    # and pip reuses its kept build folder.
    subprocess.run(pip + ["-r", str(REPO / "scripts" / "requirements-build.txt"), "numpy"],
                   check=True, env=env)
    result = subprocess.run(pip + ["--no-build-isolation", str(REPO)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"pip install {REPO} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    stamp.write_text(digest)
    return python


class VenvRunner:
    """Runs Python source in the test venv, outside the checkout (so `import clipdex` can only
    find the installed package)."""

    def __init__(self, python: pathlib.Path, workdir: pathlib.Path):
        self.python = python
        self.workdir = workdir

    def run(self, source: str, *, env=None, timeout=600, check=True) -> subprocess.CompletedProcess:
        script = self.workdir / "script.py"
        script.write_text(textwrap.dedent(source))
        full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        full_env.update(env or {})
        proc = subprocess.run([str(self.python), str(script)], cwd=self.workdir, env=full_env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"script exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
        return proc

    def json(self, source: str, **kwargs):
        """Runs the source; its last stdout line is JSON."""
        return json.loads(self.run(source, **kwargs).stdout.strip().splitlines()[-1])


@pytest.fixture
def py(venv_python, tmp_path) -> VenvRunner:
    return VenvRunner(venv_python, tmp_path)


@pytest.fixture(scope="session")
def emoji_model() -> pathlib.Path:
    shared = REPO.parent / "shared" / "models" / "emoji-clip-tiny"
    return shared if shared.is_dir() else REPO / "models" / "emoji-clip-tiny-f16"


@pytest.fixture(scope="session")
def twemoji_folder(tmp_path_factory):
    """See emoji_data.twemoji_maker."""
    return twemoji_maker(tmp_path_factory)


@pytest.fixture(scope="session", params=KINDS)
def milvus_server(request):
    if not servers.available(request.param):
        missing_reference(f"Milvus server `{request.param}` is not installed: run scripts/milvus/venvs.sh {request.param}")
    server = servers.Server(request.param)
    try:
        server.start()
    except (RuntimeError, TimeoutError) as error:
        pytest.fail(f"Milvus server `{request.param}` did not start: {error}")
    yield server
    server.stop()
