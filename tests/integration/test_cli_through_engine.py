"""The CLI goes through the engine (issue #13): `embed` resolves model names as every other
command does (it took only a directory, so the default name `ViT-B-32::openai` was refused), and
`search --grid` loads hit images under the engine's limits and private-address rule instead of
fetching and decoding them itself. Row and hit JSON have the HTTP API's shapes."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fake_hf_server import FakeHub, FakeRepo  # noqa: E402

LAION = "ViT-B-32::laion2b_e16"  # an open_clip-format registry name
LAION_REPO = "timm/vit_base_patch32_clip_224.laion2b_e16"


def run(build_dir, *args, env=None, check=True):
    proc = subprocess.run([str(build_dir / "clipdex"), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"clipdex {args} exited {proc.returncode}: {proc.stderr}")
    return proc


def hub_env(hub, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home))
    return env


def embeddings(proc):
    return np.array([item["embedding"] for item in json.loads(proc.stdout)["items"]], dtype=np.float32)


def test_embed_resolves_registry_and_hf_hub_names_like_search(build_dir, emoji_model_dir, twemoji_folder, tmp_path):
    """The emoji model served by a loopback hub under a registry name's repo and under an
    hf-hub: name: `embed` downloads and uses it, with vectors bit-identical to the directory's,
    and `index` and `search` on the same name record and use the same model."""
    files = {path.name: path.read_bytes() for path in pathlib.Path(emoji_model_dir).iterdir() if path.is_file()}
    hub = FakeHub()
    hub.add_repo(FakeRepo(LAION_REPO, files, lfs={"open_clip_model.safetensors"}))
    hub.add_repo(FakeRepo("clipdex-test/emoji", files, lfs={"open_clip_model.safetensors"}))
    hub.start()
    try:
        env = hub_env(hub, tmp_path / "hf home")
        texts = ["--text", "a dog", "--text", "红色的心"]
        by_dir = embeddings(run(build_dir, "--model", emoji_model_dir, "embed", *texts))
        for name in (LAION, "hf-hub:clipdex-test/emoji"):
            proc = run(build_dir, "--model", name, "embed", *texts, env=env)
            assert json.loads(proc.stdout)["model"] == name
            assert np.array_equal(embeddings(proc), by_dir), name
        db = tmp_path / "s.db"
        heart = twemoji_folder("registry-heart", extra=("2764.svg",))
        run(build_dir, "--db", db, "--model", LAION, "index", heart, env=env)
        run(build_dir, "--db", db, "--model", LAION, "search", "a dog", env=env)
        stats = json.loads(run(build_dir, "--db", db, "stats", "--json", env=env).stdout)
        assert stats["model"] == LAION
        run(build_dir, "--db", db, "search", "a dog", env=env)  # the collection's own model
    finally:
        hub.stop()


def test_embed_image_is_the_vector_add_stores(clipdex_cli, twemoji_folder, tmp_path):
    cli = clipdex_cli(tmp_path / "e.db")
    heart = twemoji_folder("embed-heart", extra=("2764.svg",)) / "2764.svg"
    embedded = np.array(json.loads(cli.run("embed", "--image", heart).stdout)["items"][0]["embedding"],
                        dtype=np.float32)
    cli.run("add", "--id", 1, "--file", heart)
    row = json.loads(cli.run("list", "--json", "--vectors").stdout)[0]
    assert np.array_equal(np.array(row["vector"], dtype=np.float32), embedded)


def png_header_only(width, height):
    """A PNG whose header claims width x height and whose data is one empty IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def engine_error(proc):
    """The message after `clipdex: error (code): `."""
    line = next(line for line in proc.stderr.splitlines() if line.startswith("clipdex: error"))
    return line.split("): ", 1)[1]


def grey_cells(sheet_path, count):
    """Which of the first `count` thumbnails of a contact sheet are the grey 'could not load' box."""
    sheet = Image.open(sheet_path).convert("RGB")
    cell, gap = 160, 8
    grey = (200, 200, 200)

    def is_grey_box(left):
        # The query band's height depends on the query, so look down the column for a full grey row.
        return any(all(sheet.getpixel((left + dx, y)) == grey for dx in range(0, cell, 8))
                   for y in range(sheet.height))
    return [is_grey_box(gap + i * (cell + gap)) for i in range(count)]


def test_grid_loads_hits_under_the_engines_url_rule_and_limits(clipdex_cli, serve_folder, twemoji_folder, tmp_path):
    folder = twemoji_folder("grid", extra=("2764.svg",))
    site = serve_folder(folder)
    url = f"{site.base}/2764.svg"
    cli = clipdex_cli(tmp_path / "g.db")
    cli.run("--allow-private-urls", "add", "--id", 1, "--url", url)
    big = tmp_path / "big.png"
    shutil.copyfile(folder / "2764.svg", tmp_path / "later.svg")
    cli.run("add", "--id", 2, "--file", tmp_path / "later.svg")
    # The file behind row 2 is replaced by a decompression bomb's header (40000 x 40000).
    big.write_bytes(png_header_only(40000, 40000))
    os.replace(big, tmp_path / "later.svg")

    refused_url = engine_error(cli.run("search", "--image", url, check=False))
    refused_big = engine_error(cli.run("search", "--image", tmp_path / "later.svg", check=False))
    assert "1600000000" in refused_big or "40000" in refused_big, refused_big

    sheet = tmp_path / "closed.png"
    proc = cli.run("search", "red heart", "-k", 2, "--grid", sheet)
    reported = [line.split("contact sheet: ", 1)[1] for line in proc.stderr.splitlines()
                if line.startswith("contact sheet: ")]
    assert sorted(reported) == sorted([refused_url, refused_big]), proc.stderr
    assert grey_cells(sheet, 2) == [True, True]

    sheet = tmp_path / "open.png"
    proc = cli.run("--allow-private-urls", "search", "red heart", "-k", 2, "--grid", sheet)
    reported = [line for line in proc.stderr.splitlines() if line.startswith("contact sheet: ")]
    assert reported == [f"contact sheet: {refused_big}"], proc.stderr
    hits = json.loads(cli.run("search", "red heart", "-k", 2, "--json").stdout)[0]["hits"]
    url_rank = next(hit["rank"] for hit in hits if hit["id"] == 1)
    assert grey_cells(sheet, 2)[url_rank - 1] is False


def test_list_and_search_json_have_the_http_shapes(clipdex_cli, twemoji_folder, tmp_path):
    folder = twemoji_folder("shapes", extra=("2764.svg",))
    cli = clipdex_cli(tmp_path / "j.db")
    cli.run("index", folder)
    row = json.loads(cli.run("list", "--json").stdout)[0]
    assert "extra" not in row and "vector" not in row
    assert {"id", "url", "description", "added_at", "updated_at", "source", "sha256", "width",
            "height", "file_size", "mtime_ns"} <= set(row)
    assert row["source"] == "file" and row["width"] == 64
    hit = json.loads(cli.run("search", "red heart", "-k", 1, "--json").stdout)[0]["hits"][0]
    assert set(hit) == {"rank", "id", "url", "similarity", "score"}  # no description: none stored
    assert hit["similarity"] == hit["score"] and hit["rank"] == 1
