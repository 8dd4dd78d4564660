"""The installed library, used the way a user would (tests/package/): `cmake --install` into a
temporary prefix, an outside CMake project built with only CMAKE_PREFIX_PATH pointing there
(find_package(clipdex) + clipdex::clipdex; every installed header compiled on its own), run on
three Twemoji drawings with the emoji model."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
from emoji_data import TWEMOJI  # noqa: E402
DRAWINGS = ["2764.svg", "1f436.svg", "1f697.svg"]  # red heart, dog face, car


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(build_dir, tmp_path_factory):
    if not (build_dir / "build.ninja").exists() and not (build_dir / "Makefile").exists():
        pytest.fail(f"{build_dir} is not a CMake build directory")
    prefix = tmp_path_factory.mktemp("prefix")
    run(["cmake", "--install", str(build_dir), "--prefix", str(prefix)])
    return prefix


@pytest.fixture(scope="module")
def demo(installed, tmp_path_factory):
    out = tmp_path_factory.mktemp("package-build")
    env = dict(os.environ)
    env.pop("CMAKE_PREFIX_PATH", None)
    configure = ["cmake", "-S", str(REPO / "tests" / "package"), "-B", str(out),
                 "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={installed}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    if shutil.which("ccache"):
        configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
    run(configure, env=env)
    run(["cmake", "--build", str(out)], env=env)
    return out / "package_demo"


def test_install_layout(installed):
    lib = installed / "lib"
    assert (installed / "include" / "clipdex" / "engine.h").is_file()
    version_h = (installed / "include" / "clipdex" / "version.h").read_text()
    assert '#define CLIPDEX_VERSION "0.1.0"' in version_h
    assert (lib / "cmake" / "clipdex" / "clipdex-config.cmake").is_file()
    assert (lib / "cmake" / "clipdex" / "clipdex-config-version.cmake").is_file()
    assert (lib / "cmake" / "clipdex" / "clipdex-targets.cmake").is_file()
    assert list(lib.glob("libclipdex.so*")), sorted(p.name for p in lib.iterdir())
    assert os.access(installed / "bin" / "clipdex", os.X_OK)
    # The installed command runs from its prefix (its library and worker found from there).
    assert run([str(installed / "bin" / "clipdex"), "--version"]).strip() == "clipdex 0.1.0"
    assert os.access(installed / "libexec" / "clipdex" / "clipdex-svg-worker", os.X_OK)
    # Private headers stay private.
    assert sorted(p.name for p in (installed / "include").iterdir()) == ["clipdex"]


def test_library_exports_only_the_public_api(installed):
    symbols = run(["nm", "-D", "--defined-only", "-C", str(installed / "lib" / "libclipdex.so")])
    names = [line.split(" ", 2)[2] for line in symbols.splitlines() if line.count(" ") >= 2]
    assert names
    # The symbol's own name (its parameters may name private types: Engine's private constructor
    # takes its engine::State).
    private = [n for n in names if any(f"clipdex::{m}::" in n.split("(")[0] for m in
               ("engine", "image", "text", "model", "hub", "embedded", "milvus", "filter", "detail",
                "ClipModel::Impl"))]
    assert not private, private[:20]
    foreign = [n for n in names if "clipdex" not in n and not n.startswith(("_init", "_fini"))]
    assert not foreign, foreign[:20]
    assert any("clipdex::Engine::open" in n for n in names)


def test_outside_project_indexes_and_searches(demo, installed, emoji_model_dir, tmp_path):
    if not TWEMOJI.is_dir():
        pytest.fail(f"npm test data missing ({TWEMOJI}): run scripts/deps.sh")
    images = [str(TWEMOJI / name) for name in DRAWINGS]
    env = {k: v for k, v in os.environ.items() if k != "CLIPDEX_SVG_WORKER"}
    out = run([str(demo), str(emoji_model_dir), str(tmp_path / "demo.db"), "red heart", *images],
              cwd=tmp_path, env=env)
    lines = out.splitlines()
    assert lines[0] == "headers 0.1.0 library 0.1.0"
    assert "added 3 failed 0" in lines
    hits = [line.split() for line in lines if line.startswith("hit ")]
    assert [h[1] for h in hits][:1] == ["2764.svg"], out
    assert sorted(h[1] for h in hits) == sorted(DRAWINGS)
    scores = [float(h[2]) for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert "records 3 dimension" in out and "metric COSINE" in out
    # The drawings were rendered by the installed worker, found from the installed library.
    workers = [line.split(" ", 1)[1] for line in lines if line.startswith("worker ")]
    assert workers, out
    expected = (installed / "libexec" / "clipdex" / "clipdex-svg-worker").resolve()
    assert all(pathlib.Path(w).resolve() == expected for w in workers), (workers, expected)
    assert "error not_found" in lines, out
