"""A newcomer's steps with models (issue #14): commands that do not encode load no model (they
worked only with --model, and offline failed with the hub's error), commands that encode use the
collection's own model without --model, the same weights in another folder are the same model,
and the advice of every model error works when run as written."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
OTHER_MODEL = REPO / "models" / "emoji-clip-tiny-f16"  # the demo model: other weights, same size


def offline_env(tmp_path):
    """No hub: offline, an empty cache and an endpoint nothing answers on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "empty-hf-home"), HF_ENDPOINT="http://127.0.0.1:9")
    return env


class Cli:
    """`clipdex --db DB ...` without a --model of its own, offline."""

    def __init__(self, build_dir, db, env):
        self.binary, self.db, self.env = str(build_dir / "clipdex"), str(db), env

    def run(self, *args, check=True):
        proc = subprocess.run([self.binary, "--db", self.db, *map(str, args)], capture_output=True, text=True,
                              timeout=600, env=self.env)
        if check and proc.returncode != 0:
            raise AssertionError(f"clipdex {shlex.join(map(str, args))} exited {proc.returncode}: {proc.stderr}")
        return proc

    def top_hit(self, *args):
        return json.loads(self.run("search", *args, "--json").stdout)[0]["hits"][0]  # one query: a list of one


def advised(stderr: str, option: str) -> list[str]:
    """The `give OPTION VALUE` words the error advises, shell-quoted as it wrote them."""
    match = re.search(r"give (?:it its own collection: )?" + re.escape(option) + r" ('(?:[^']|'\\'')*'|[^\s;]+)",
                      stderr)
    assert match, f"no {option} advice in: {stderr}"
    return [option, *shlex.split(match.group(1))]


def test_reading_commands_load_no_model_and_encoding_ones_use_the_collections(
        build_dir, emoji_model_dir, twemoji_folder, tmp_path):
    images = twemoji_folder("pictures", extra=("2764.svg", "1f436.svg", "1f431.svg", "1f353.svg"))
    cli = Cli(build_dir, tmp_path / "mine.db", offline_env(tmp_path))
    cli.run("--model", emoji_model_dir, "index", images)

    # No --model, no hub: every command that only reads or removes rows answers at once.
    for args in (["stats", "--json"], ["list", "--json"], ["info", "--json"]):
        start = time.monotonic()
        out = cli.run(*args).stdout
        elapsed = time.monotonic() - start
        print(f"{args[0]}: {elapsed:.3f} s")
        assert elapsed < 2.0, (args, elapsed)
        if args[0] == "stats":
            stats = json.loads(out)
            assert stats["total_records"] == 4 and stats["dimension"] == 128
            assert stats["model"] == str(emoji_model_dir)  # the collection's own
        if args[0] == "list":
            rows = json.loads(out)
            assert len(rows) == 4
    heart_id = next(row["id"] for row in rows if row["url"].endswith("2764.svg"))
    # Searching without --model encodes with the collection's model.
    assert cli.top_hit("red heart", "-k", "1")["id"] == heart_id
    start = time.monotonic()
    assert "removed 1 of 1" in cli.run("remove", heart_id).stdout
    print(f"remove: {time.monotonic() - start:.3f} s")
    assert json.loads(cli.run("stats", "--json").stdout)["total_records"] == 3


def test_the_same_weights_in_another_folder_are_the_same_model(build_dir, emoji_model_dir, twemoji_folder,
                                                               tmp_path):
    images = twemoji_folder("pictures", extra=("2764.svg", "1f436.svg"))
    cli = Cli(build_dir, tmp_path / "mine.db", offline_env(tmp_path))
    cli.run("--model", emoji_model_dir, "index", images)
    copy = tmp_path / "my models" / "emoji copy"
    shutil.copytree(emoji_model_dir, copy)
    hit = cli.top_hit("--model", copy, "--image", images / "1f436.svg", "-k", "1")
    assert hit["url"].endswith("1f436.svg") and hit["score"] > 0.999
    assert "added id 5" in cli.run("--model", copy, "add", "--id", "5", "--file", images / "2764.svg").stdout
    assert json.loads(cli.run("stats", "--json").stdout)["model"] == str(emoji_model_dir)  # still there


def test_a_moved_model_folder_is_found_again_by_its_weights(build_dir, emoji_model_dir, twemoji_folder, tmp_path):
    images = twemoji_folder("pictures", extra=("2764.svg",))
    cli = Cli(build_dir, tmp_path / "mine.db", offline_env(tmp_path))
    first = tmp_path / "first place"
    shutil.copytree(emoji_model_dir, first)
    cli.run("--model", first, "index", images)
    moved = tmp_path / "second place"
    first.rename(moved)
    gone = cli.run("search", "red heart", check=False)
    assert gone.returncode == 3 and str(first) in gone.stderr and "--model FOLDER" in gone.stderr, gone.stderr
    assert cli.top_hit("--model", moved, "red heart")["url"].endswith("2764.svg")
    # A search opens the store read-only; the next write records the new place ...
    assert json.loads(cli.run("stats", "--json").stdout)["model"] == str(first)
    shutil.copyfile(images / "2764.svg", tmp_path / "new heart.svg")
    cli.run("--model", moved, "add", "--id", 9, "--file", tmp_path / "new heart.svg")
    # ... and no --model is needed again.
    assert json.loads(cli.run("stats", "--json").stdout)["model"] == str(moved)
    assert cli.top_hit("red heart")["url"].endswith(("2764.svg", "new heart.svg"))  # the same picture


def test_another_models_refusal_gives_advice_that_works_as_written(build_dir, emoji_model_dir, twemoji_folder,
                                                                   tmp_path):
    images = twemoji_folder("pictures", extra=("2764.svg", "1f436.svg"))
    cli = Cli(build_dir, tmp_path / "mine.db", offline_env(tmp_path))
    own = tmp_path / "my models" / "emoji's own"  # the advice must quote it for the shell
    shutil.copytree(emoji_model_dir, own)
    cli.run("--model", own, "index", images)
    other = OTHER_MODEL
    refused = cli.run("--model", other, "search", "dog face", check=False)
    assert refused.returncode == 7 and "error (conflict)" in refused.stderr, refused.stderr
    assert str(own) in refused.stderr and "sha256:" in refused.stderr
    # The advice, run literally: the collection's own model ...
    model_words = advised(refused.stderr, "--model")
    assert model_words == ["--model", str(own)]
    assert cli.top_hit(*model_words, "dog face")["url"].endswith("1f436.svg")
    # ... or leaving --model out ...
    assert "leave --model out" in refused.stderr
    assert cli.top_hit("dog face")["url"].endswith("1f436.svg")
    # ... or the other model in a collection of its own.
    collection_words = advised(refused.stderr, "--collection")
    report = json.loads(cli.run("--model", other, *collection_words, "index", images, "--json").stdout)
    assert report["added"] == 2
    assert cli.top_hit(*collection_words, "dog face")["url"].endswith("1f436.svg")


def test_searching_a_collection_that_does_not_exist_says_how_to_make_it(build_dir, emoji_model_dir, twemoji_folder,
                                                                      tmp_path):
    cli = Cli(build_dir, tmp_path / "mine.db", offline_env(tmp_path))
    images = twemoji_folder("pictures", extra=("2764.svg",))
    cli.run("--model", emoji_model_dir, "--collection", "photos", "index", images)
    missing = cli.run("search", "a dog", check=False)  # the default collection, never made
    assert missing.returncode == 3, missing.stderr
    assert "collection 'clipdex' does not exist" in missing.stderr, missing.stderr
    # The advice, with a real folder for FOLDER, makes it (with the default model: given here,
    # since the test is offline).
    advice = missing.stderr.split("index images into it first: ", 1)[1].strip()
    words = shlex.split(advice)
    assert words[0] == "clipdex" and words[-2:] == ["index", "FOLDER"], advice
    assert words[1:3] == ["--db", cli.db], advice  # Cli.run gives --db itself
    cli.run(*words[3:-1], images, "--model", emoji_model_dir)
    assert cli.top_hit("red heart")["url"].endswith("2764.svg")


def test_serve_without_model_loads_the_collections_at_start(build_dir, emoji_model_dir, twemoji_folder, start_server,
                                                            clipdex_cli, tmp_path):
    db = tmp_path / "served.db"
    Cli(build_dir, db, offline_env(tmp_path)).run("--model", emoji_model_dir, "index",
                                                  twemoji_folder("served", extra=("2764.svg",)))
    cli = clipdex_cli(db)
    cli.base = ["--db", str(db)]  # no --model: the collection's own
    server = start_server(cli)
    try:
        status, health = server.get("/api/milvus/health")
        assert status == 200 and health["model"] == str(emoji_model_dir), health
        status, answer = server.post("/api/milvus/search", {"text": "red heart", "k": 1})
        assert status == 200 and answer["results"][0]["url"].endswith("2764.svg"), answer
    finally:
        assert server.stop() == 0
    # Another model fails at start, with the reason, instead of at the first request.
    cli.base = ["--db", str(db), "--model", str(OTHER_MODEL)]
    proc = subprocess.run([cli.binary, *cli.base, "serve", "--port", "0"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 7 and "error (conflict)" in proc.stderr, proc.stderr
