"""`clipdex migrate` between the embedded store and each real Milvus server kind: a collection goes
file -> Milvus -> file and the two files must agree row by row, bit-exact vectors included
(store_fill dumps vectors as the hex of their float32 bytes)."""
import json
import pathlib
import shutil
import subprocess
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
from emoji_data import TWEMOJI  # noqa: E402
ROWS = 300
DIM = 24
# Collection settings a server kind drops on its own (the store sends them; DescribeCollection
# answers without them), so a round trip through it cannot carry them either.
SERVER_DROPS = {"lite3": {"description"}, "lite25": {"properties"}}


@pytest.fixture(scope="module")
def tools(build_dir):
    clipdex, fill = build_dir / "clipdex", build_dir / "tests" / "store_fill"
    for tool in (clipdex, fill):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: build the clipdex and store_fill targets")
    return {"clipdex": clipdex, "fill": fill}


def run(*args, check=True, timeout=600):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def migrate(tools, src, dst, collection, to_collection, *extra, check=True):
    proc = run(tools["clipdex"], "migrate", src, dst, "--collection", collection, "--to-collection",
               to_collection, "--json", *extra, check=check)
    return proc, (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None)


def dump(tools, uri, collection):
    lines = run(tools["fill"], "dump", uri, collection).stdout.splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def assert_same_collection(left, right, compare_index=True, dropped=()):
    (spec_a, rows_a), (spec_b, rows_b) = left, right
    keys = ["dim", "metric"] + [k for k in ("description", "properties") if k not in dropped]
    keys += ["index"] if compare_index else []
    assert {k: spec_a[k] for k in keys} == {k: spec_b[k] for k in keys}
    assert len(rows_a) == len(rows_b)
    for a, b in zip(rows_a, rows_b):
        assert a == b, f"row {a['id']} differs"


@pytest.fixture(scope="module")
def filled_source(tools, tmp_path_factory):
    db = tmp_path_factory.mktemp("migrate") / "源 store.db"
    run(tools["fill"], "fill", db, "gallery", ROWS, DIM, 5)
    return db


@pytest.fixture(scope="module")
def indexed_source(tools, emoji_model_dir, tmp_path_factory):
    """A collection written by `clipdex index` itself, from a few Twemoji drawings."""
    if not TWEMOJI.is_dir():
        pytest.fail("npm test data missing: run scripts/deps.sh")
    root = tmp_path_factory.mktemp("twemoji")
    folder = root / "表情 svg"
    folder.mkdir()
    for svg in sorted(TWEMOJI.glob("*.svg"))[:24]:
        shutil.copyfile(svg, folder / svg.name)
    db = root / "indexed.db"
    report = json.loads(run(tools["clipdex"], "--db", db, "--model", emoji_model_dir, "index", folder,
                            "--json").stdout)
    assert report["added"] == 24 and report["failed"] == 0, report
    return db


def test_embedded_to_embedded(tools, filled_source, tmp_path):
    copy = tmp_path / "copy.db"
    _, report = migrate(tools, filled_source, copy, "gallery", "gallery", "--batch", 50)
    assert report["verified"] and report["created"] and report["copied"] == ROWS and report["skipped"] == 0
    assert_same_collection(dump(tools, filled_source, "gallery"), dump(tools, copy, "gallery"))
    _, again = migrate(tools, filled_source, copy, "gallery", "gallery")
    assert again["copied"] == 0 and again["skipped"] == ROWS and again["verified"]


def test_cli_errors(tools, filled_source, tmp_path):
    proc, _ = migrate(tools, filled_source, tmp_path / "x.db", "no_such", "no_such", check=False)
    assert proc.returncode == 3 and "no_such" in proc.stderr
    other = tmp_path / "other.db"
    run(tools["fill"], "fill", other, "gallery", 1, DIM + 1)
    proc, _ = migrate(tools, filled_source, other, "gallery", "gallery", check=False)
    assert proc.returncode != 0 and "(conflict)" in proc.stderr and "dim 25" in proc.stderr
    proc, _ = migrate(tools, filled_source, filled_source, "gallery", "gallery", check=False)
    assert proc.returncode == 2


def test_round_trip_through_milvus(tools, milvus_server, filled_source, tmp_path):
    remote = "mig_" + uuid.uuid4().hex[:12]
    _, there = migrate(tools, filled_source, milvus_server.uri, "gallery", remote, "--batch", 64)
    assert there["verified"] and there["created"] and there["copied"] == ROWS, there
    # A rerun finds every row already there, identical as read back from the server.
    _, rerun = migrate(tools, filled_source, milvus_server.uri, "gallery", remote, "--batch", 64)
    assert rerun["copied"] == 0 and rerun["skipped"] == ROWS, rerun

    back = tmp_path / "back 回来.db"
    _, home = migrate(tools, milvus_server.uri, back, remote, "gallery", "--batch", 100)
    assert home["verified"] and home["copied"] == ROWS, home
    # Milvus servers differ in which index kinds they keep (milvus-lite serves FLAT only).
    dropped = SERVER_DROPS.get(milvus_server.kind, set())
    remote_spec = dump(tools, milvus_server.uri, remote)[0]
    assert_same_collection(dump(tools, filled_source, "gallery"), dump(tools, back, "gallery"), compare_index=False,
                           dropped=dropped)
    for key in dropped:
        # Still what the server answered, so a fixed server makes this fail and the entry go.
        assert not remote_spec[key], f"{milvus_server.kind} now keeps the collection {key}: drop SERVER_DROPS entry"


def test_indexed_collection_through_milvus(tools, milvus_server, indexed_source, tmp_path):
    remote = "mig_" + uuid.uuid4().hex[:12]
    migrate(tools, indexed_source, milvus_server.uri, "clipdex", remote)
    back = tmp_path / "back.db"
    migrate(tools, milvus_server.uri, back, remote, "clipdex")
    original, returned = dump(tools, indexed_source, "clipdex"), dump(tools, back, "clipdex")
    assert len(original[1]) == 24
    assert "clipdex.model" in original[0]["properties"]
    assert_same_collection(original, returned, compare_index=False, dropped=SERVER_DROPS.get(milvus_server.kind, ()))
