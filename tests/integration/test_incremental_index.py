"""Incremental indexing through the CLI: what a second `clipdex index` of a folder re-encodes.

A file is encoded again only when its content changed. A new mtime with the same bytes (a copy,
a checkout, `touch`) refreshes the row's metadata without encoding; a descriptions file given
later fills in the descriptions of files that were indexed without one; `--prune` removes the
rows of deleted files.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
from emoji_data import TWEMOJI  # noqa: E402
DRAWINGS = ["1f436.svg", "1f431.svg", "2764.svg", "1f34e.svg"]  # dog, cat, heart, apple


@pytest.fixture
def run(build_dir, emoji_model_dir, tmp_path):
    db = tmp_path / "incremental.db"

    def clipdex(*args):
        proc = subprocess.run([str(build_dir / "clipdex"), "--db", str(db), "--model", str(emoji_model_dir),
                               *map(str, args)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return clipdex


@pytest.fixture
def folder(tmp_path):
    if not TWEMOJI.is_dir():
        pytest.fail("npm test data missing: run scripts/deps.sh")
    root = tmp_path / "图片 folder"
    root.mkdir()
    for name in DRAWINGS:
        shutil.copyfile(TWEMOJI / name, root / name)
    return root


def counts(report):
    return {key: report[key] for key in ("added", "updated", "unchanged", "failed")}


def rows_by_name(run):
    return {pathlib.Path(row["url"]).name: row for row in run("list", "--json")}


def test_touch_refreshes_metadata_without_encoding(run, folder):
    assert counts(run("index", folder, "--json")) == {"added": 4, "updated": 0, "unchanged": 0, "failed": 0}
    before = rows_by_name(run)
    stat = (folder / "2764.svg").stat()
    os.utime(folder / "2764.svg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    assert counts(run("index", folder, "--json")) == {"added": 0, "updated": 0, "unchanged": 4, "failed": 0}
    after = rows_by_name(run)
    assert after["2764.svg"]["mtime_ns"] == stat.st_mtime_ns + 5_000_000_000
    assert after["2764.svg"]["sha256"] == before["2764.svg"]["sha256"]
    # The new mtime is remembered: a third run has nothing to hash again.
    assert counts(run("index", folder, "--json"))["unchanged"] == 4


def test_changed_content_is_encoded_again_under_the_same_id(run, folder):
    run("index", folder, "--json")
    before = rows_by_name(run)
    shutil.copyfile(TWEMOJI / "1f98a.svg", folder / "1f436.svg")  # the dog becomes a fox

    assert counts(run("index", folder, "--json")) == {"added": 0, "updated": 1, "unchanged": 3, "failed": 0}
    after = rows_by_name(run)
    assert after["1f436.svg"]["id"] == before["1f436.svg"]["id"]
    assert after["1f436.svg"]["sha256"] != before["1f436.svg"]["sha256"]
    hits = run("search", "fox", "-k", "1", "--json")[0]["hits"]
    assert pathlib.Path(hits[0]["url"]).name == "1f436.svg"


def test_descriptions_given_later_are_stored(run, folder, tmp_path):
    run("index", folder, "--json")
    descriptions = tmp_path / "descriptions.json"
    descriptions.write_text(json.dumps({"2764.svg": "红色的心 a red heart", "1f34e.svg": "an apple"}),
                            encoding="utf-8")

    report = run("index", folder, "--descriptions", descriptions, "--json")
    assert counts(report) == {"added": 0, "updated": 2, "unchanged": 2, "failed": 0}
    rows = rows_by_name(run)
    assert rows["2764.svg"]["description"] == "红色的心 a red heart"
    assert rows["1f34e.svg"]["description"] == "an apple"
    assert rows["1f436.svg"]["description"] == ""
    assert counts(run("index", folder, "--descriptions", descriptions, "--json"))["unchanged"] == 4


def test_prune_removes_rows_of_deleted_files(run, folder):
    run("index", folder, "--json")
    (folder / "1f431.svg").unlink()
    report = run("index", folder, "--prune", "--json")
    assert report["pruned"] == 1
    assert set(rows_by_name(run)) == {"1f436.svg", "2764.svg", "1f34e.svg"}
