"""Model downloads into the Hugging Face cache, against a fake hub on loopback.

Drives tests/tools/clipdex_pull (ensure_model / list_models) and checks the cache with
huggingface_hub itself, so that clipdex and Python tools share downloads both ways.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fake_hf_server import FakeHub, FakeRepo  # noqa: E402

OPENCLIP_REPO = "clipdex-test/tiny-openclip"
HF_REPO = "clipdex-test/tiny-hf"
BIG = "open_clip_model.safetensors"


def _weights(size: int, seed: int) -> bytes:
    return hashlib.shake_256(b"clipdex-%d" % seed).digest(size)


@pytest.fixture()
def hub():
    fake = FakeHub()
    fake.add_repo(FakeRepo(OPENCLIP_REPO, {
        "open_clip_config.json": json.dumps({"model_cfg": {"embed_dim": 8}}).encode(),
        BIG: _weights(300_000, 1),
        "vocab.json": json.dumps({"a": 0}).encode(),
        "merges.txt": b"#version: 0.2\na b\n",
        "README.md": b"# tiny\n",
    }, lfs={BIG}))
    fake.add_repo(FakeRepo(HF_REPO, {
        "config.json": b'{"projection_dim": 8}',
        "model.safetensors": _weights(120_000, 2),
        "vocab.json": b'{"a": 0}',
        "merges.txt": b"#version: 0.2\n",
        "preprocessor_config.json": b'{"crop_size": 224}',
    }, lfs={"model.safetensors"}))
    fake.add_repo(FakeRepo("openai/clip-vit-base-patch32", {
        "config.json": b'{"projection_dim": 512}',
        "model.safetensors": _weights(50_000, 3),
        "vocab.json": b"{}",
        "merges.txt": b"#version: 0.2\n",
        "preprocessor_config.json": b"{}",
    }, lfs={"model.safetensors"}))
    fake.start()
    yield fake
    fake.stop()


def _tool(build_dir: pathlib.Path, name: str) -> pathlib.Path:
    for candidate in (build_dir / "tests" / name, build_dir / name):
        if candidate.is_file():
            return candidate
    pytest.fail(f"{name} is not built in {build_dir}")


@pytest.fixture()
def pull(build_dir, hub, tmp_path):
    tool = _tool(build_dir, "clipdex_pull")
    home = tmp_path / "hf home"  # a space in the path on purpose

    def run(*args: str, offline: bool = False, token: str | None = None, check: bool = True):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), HOME=str(tmp_path))
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        if token:
            env["HF_TOKEN"] = token
        result = subprocess.run([str(tool), *args], env=env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            pytest.fail(f"clipdex_pull {args} failed: {result.stderr}")
        return result

    run.home = home
    return run


def _hf_offline(home: pathlib.Path, code: str) -> str:
    """Runs huggingface_hub in a child process (it reads HF_* at import) against the cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _repo_dir(home: pathlib.Path, repo: str) -> pathlib.Path:
    return home / "hub" / ("models--" + repo.replace("/", "--"))


def test_fresh_download_lands_in_hf_layout(pull, hub):
    snapshot = pathlib.Path(pull(f"hf-hub:{OPENCLIP_REPO}").stdout.strip())
    repo = hub.repos[OPENCLIP_REPO]
    repo_dir = _repo_dir(pull.home, OPENCLIP_REPO)
    assert snapshot == repo_dir / "snapshots" / repo.commit
    assert (repo_dir / "refs" / "main").read_text() == repo.commit
    for name in ("open_clip_config.json", BIG, "vocab.json", "merges.txt"):
        link = snapshot / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link)), name
        assert link.read_bytes() == repo.files[name]
    assert os.readlink(snapshot / BIG) == "../../blobs/" + hashlib.sha256(repo.files[BIG]).hexdigest()
    assert not list((repo_dir / "blobs").glob("*.incomplete"))
    assert not (snapshot / "README.md").exists()  # only what the model needs


def test_huggingface_hub_reads_our_cache_offline(pull, hub):
    pull(f"hf-hub:{OPENCLIP_REPO}")
    code = (
        "from huggingface_hub import hf_hub_download, try_to_load_from_cache\n"
        f"p = hf_hub_download({OPENCLIP_REPO!r}, {BIG!r}, local_files_only=True)\n"
        f"q = try_to_load_from_cache({OPENCLIP_REPO!r}, 'vocab.json')\n"
        "print(p); print(q)\n"
    )
    paths = _hf_offline(pull.home, code).splitlines()
    assert pathlib.Path(paths[0]).read_bytes() == hub.repos[OPENCLIP_REPO].files[BIG]
    assert pathlib.Path(paths[1]).read_bytes() == hub.repos[OPENCLIP_REPO].files["vocab.json"]


def test_we_reuse_what_huggingface_hub_downloaded(pull, hub):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HOME=str(pull.home), HF_ENDPOINT=hub.url, HF_HUB_DISABLE_XET="1")
    code = (
        "from huggingface_hub import hf_hub_download\n"
        f"for f in ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'preprocessor_config.json']:\n"
        f"    hf_hub_download({HF_REPO!r}, f)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # hf_hub_download never asked for open_clip_config.json; mark it missing the way it would.
    missing = _repo_dir(pull.home, HF_REPO) / ".no_exist" / hub.repos[HF_REPO].commit / "open_clip_config.json"
    missing.parent.mkdir(parents=True, exist_ok=True)
    missing.touch()
    before = hub.count()
    snapshot = pathlib.Path(pull(f"hf-hub:{HF_REPO}", offline=True).stdout.strip())
    assert (snapshot / "model.safetensors").read_bytes() == hub.repos[HF_REPO].files["model.safetensors"]
    assert hub.count() == before


def test_second_call_uses_cache_without_network(pull, hub):
    first = pull(f"hf-hub:{OPENCLIP_REPO}").stdout
    before = hub.count()
    assert before > 0
    assert pull(f"hf-hub:{OPENCLIP_REPO}").stdout == first
    assert hub.count() == before


def test_transformers_repo_is_probed_and_cached(pull, hub):
    snapshot = pathlib.Path(pull(f"hf-hub:{HF_REPO}").stdout.strip())
    for name in ("config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"):
        assert (snapshot / name).read_bytes() == hub.repos[HF_REPO].files[name]
    repo_dir = _repo_dir(pull.home, HF_REPO)
    assert (repo_dir / ".no_exist" / hub.repos[HF_REPO].commit / "open_clip_config.json").exists()
    before = hub.count()
    pull(f"hf-hub:{HF_REPO}")
    assert hub.count() == before


def test_registered_name_and_list(pull, hub):
    listed = pull("--list").stdout.splitlines()
    assert listed[0].split("\t") == ["ViT-B-32::openai", "openai/clip-vit-base-patch32", "512", "not-cached", "default"]
    assert any(line.startswith("ViT-L-14::openai\topenai/clip-vit-large-patch14\t768\t") for line in listed)
    assert len(listed) == 6
    snapshot = pathlib.Path(pull("ViT-B-32::openai").stdout.strip())
    assert (snapshot / "model.safetensors").read_bytes() == hub.repos["openai/clip-vit-base-patch32"].files["model.safetensors"]
    assert pull("--list").stdout.splitlines()[0].split("\t")[3] == "cached"


def test_progress_reports_bytes(pull, hub):
    result = pull(f"hf-hub:{OPENCLIP_REPO}")
    lines = [line.split() for line in result.stderr.splitlines() if line.startswith(f"progress {BIG} ")]
    assert lines and lines[-1][-1] == "done"
    assert lines[-1][2] == lines[-1][3] == str(len(hub.repos[OPENCLIP_REPO].files[BIG]))


def test_dropped_connection_is_resumed_with_range(pull, hub):
    hub.drop_after[BIG] = 100_000
    failed = pull(f"hf-hub:{OPENCLIP_REPO}", "--retries", "0", check=False)
    assert failed.returncode == 1 and "run again to resume" in failed.stderr
    blobs = _repo_dir(pull.home, OPENCLIP_REPO) / "blobs"
    partial = list(blobs.glob("*.incomplete"))
    assert len(partial) == 1 and partial[0].stat().st_size == 100_000
    snapshot = pathlib.Path(pull(f"hf-hub:{OPENCLIP_REPO}", "--retries", "0").stdout.strip())
    assert (snapshot / BIG).read_bytes() == hub.repos[OPENCLIP_REPO].files[BIG]
    ranges = [r.headers.get("range") for r in hub.requests if r.path.startswith("/cdn/")]
    assert "bytes=100000-" in ranges
    assert not list(blobs.glob("*.incomplete"))


def test_dropped_connection_is_retried_within_one_call(pull, hub):
    hub.drop_after[BIG] = 50_000
    snapshot = pathlib.Path(pull(f"hf-hub:{OPENCLIP_REPO}").stdout.strip())
    assert (snapshot / BIG).read_bytes() == hub.repos[OPENCLIP_REPO].files[BIG]


def test_server_ignoring_range_restarts_cleanly(pull, hub):
    hub.drop_after[BIG] = 70_000
    hub.ignore_range.add(BIG)
    snapshot = pathlib.Path(pull(f"hf-hub:{OPENCLIP_REPO}").stdout.strip())
    assert (snapshot / BIG).read_bytes() == hub.repos[OPENCLIP_REPO].files[BIG]


def test_checksum_mismatch_is_refused_and_deleted(pull, hub):
    hub.corrupt.add(BIG)
    result = pull(f"hf-hub:{OPENCLIP_REPO}", check=False)
    assert result.returncode == 1
    assert "(corrupt)" in result.stderr and "sha256" in result.stderr and BIG in result.stderr
    blobs = _repo_dir(pull.home, OPENCLIP_REPO) / "blobs"
    sha = hashlib.sha256(hub.repos[OPENCLIP_REPO].files[BIG]).hexdigest()
    assert not (blobs / sha).exists() and not (blobs / (sha + ".incomplete")).exists()


def test_offline_without_cache_fails_clearly(pull, hub):
    result = pull("ViT-B-32::openai", offline=True, check=False)
    assert result.returncode == 1
    assert "model ViT-B-32::openai is not in the cache at" in result.stderr
    assert "models--openai--clip-vit-base-patch32" in result.stderr
    assert "HF_HUB_OFFLINE=1" in result.stderr
    assert hub.count() == 0


def test_offline_with_cache_needs_no_network(pull, hub):
    online = pull(f"hf-hub:{OPENCLIP_REPO}").stdout
    before = hub.count()
    assert pull(f"hf-hub:{OPENCLIP_REPO}", offline=True).stdout == online
    assert hub.count() == before


def test_token_is_sent_to_the_hub_but_not_the_cdn(pull, hub):
    hub.required_token = "hf_secret"
    denied = pull(f"hf-hub:{OPENCLIP_REPO}", check=False)
    assert denied.returncode == 1 and "HF_TOKEN" in denied.stderr
    pull(f"hf-hub:{OPENCLIP_REPO}", token="hf_secret")
    resolves = [r for r in hub.requests if "/resolve/" in r.path]
    assert resolves and resolves[-1].headers.get("authorization") == "Bearer hf_secret"
    cdn = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert cdn and all("authorization" not in r.headers for r in cdn)


def test_missing_repo_gives_clear_error(pull, hub):
    result = pull("hf-hub:nobody/missing-model", check=False)
    assert result.returncode == 1
    assert "model repository 'nobody/missing-model' not found at " + hub.url in result.stderr


def test_unknown_name_lists_known_ones(pull):
    result = pull("ViT-Q-99::nowhere", check=False)
    assert result.returncode == 1 and "ViT-B-32::openai" in result.stderr and "hf-hub:" in result.stderr


def test_local_directory_is_used_as_is(pull, emoji_model_dir):
    if not emoji_model_dir.is_dir():
        pytest.skip("shared test model missing")
    assert pull(str(emoji_model_dir), offline=True).stdout.strip() == str(emoji_model_dir)
