"""Row ids and result shapes of the command line and the HTTP API (issue #14, "The command line"):
ids clipdex gives files fit in 53 bits (JavaScript reads them exactly) and follow the documented
rule, `add --file` never makes a second row for a file, collections made with the old 63-bit ids
keep working and move to the new ids when indexed, and `search --json` is always an array."""
import json
import shutil
import subprocess

MAX_SAFE = 2**53 - 1  # Number.MAX_SAFE_INTEGER


def fnv1a64(text: str) -> int:
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) & (2**64 - 1)
    return h


def home_id(path) -> int:
    """The documented rule, written again here: FNV-1a 64 of the absolute path, folded to 53 bits."""
    h = fnv1a64(str(path))
    return ((h ^ (h >> 53)) & MAX_SAFE) or 1


def old_id(path) -> int:
    """The ids of collections indexed before December 2026."""
    return (fnv1a64(str(path)) & (2**63 - 1)) or 1


def rows(cli, vectors=False):
    args = ["list", "--limit", "-1", "--json"] + (["--vectors"] if vectors else [])
    return {row["id"]: row for row in json.loads(cli.run(*args).stdout)}


def added_id(proc) -> int:
    assert proc.stdout.startswith("added id "), proc.stdout
    return int(proc.stdout.split()[2])


def ids_exact_in_javascript(text: str) -> bool:
    """Whether every "id" in a JSON text survives JavaScript's JSON.parse (IEEE doubles)."""
    ids = []

    def collect(pairs):
        ids.extend(value for key, value in pairs if key == "id")
        return dict(pairs)

    json.loads(text, object_pairs_hook=collect)
    return bool(ids) and all(isinstance(i, int) and int(float(i)) == i for i in ids)


def test_file_ids_fit_in_53_bits_in_cli_and_http(clipdex_cli, twemoji_folder, start_server, tmp_path):
    folder = twemoji_folder("ids 表情", first=40, extra=("2764.svg",))
    shutil.copyfile(folder / "2764.svg", folder / "红心 heart.svg")
    cli = clipdex_cli(tmp_path / "c.db")
    cli.run("index", folder)
    listed = rows(cli)
    assert len(listed) == 42
    for row_id, row in listed.items():
        assert 1 <= row_id <= MAX_SAFE
        assert row_id == home_id(row["url"]), row["url"]
    assert ids_exact_in_javascript(cli.run("list", "--limit", "-1", "--json").stdout)
    searched = cli.run("search", "red heart", "-k", 5, "--json").stdout
    assert ids_exact_in_javascript(searched)
    cli_hits = json.loads(searched)[0]["hits"]

    server = start_server(cli)
    status, _, answer = server.exchange("GET", "/api/milvus/data?limit=1000")
    assert status == 200
    assert {row["id"] for row in answer["data"]} == set(listed)
    status, answer = server.post("/v1/search", {"text": "red heart", "k": 5})
    assert status == 200 and answer["count"] == 5
    assert [hit["rank"] for hit in answer["results"]] == [1, 2, 3, 4, 5]
    assert all(hit["id"] in listed for hit in answer["results"])
    # The same hits, in the same shape, as the command line's.
    assert [sorted(hit) for hit in cli_hits] == [sorted(hit) for hit in answer["results"]]
    assert [hit["id"] for hit in cli_hits] == [hit["id"] for hit in answer["results"]]
    assert server.stop() == 0


def test_add_file_twice_makes_one_row(clipdex_cli, twemoji_folder, tmp_path):
    folder = twemoji_folder("add", first=3, extra=("2764.svg", "1f436.svg"))
    heart = folder / "2764.svg"
    cli = clipdex_cli(tmp_path / "c.db")
    first = added_id(cli.run("add", "--file", heart, "--description", "my heart"))
    assert first == home_id(heart)
    assert added_id(cli.run("add", "--file", heart)) == first
    report = json.loads(cli.run("index", folder, "--json").stdout)
    assert report["added"] == 4 and report["unchanged"] == 1, report
    listed = rows(cli)
    assert len(listed) == 5
    assert [row["url"] for row in listed.values()].count(str(heart)) == 1
    assert listed[first]["description"] == "my heart"

    # New content under the same name: encoded again, the description given earlier kept.
    before = rows(cli, vectors=True)[first]["vector"]
    shutil.copyfile(folder / "1f436.svg", heart)
    assert added_id(cli.run("add", "--file", heart)) == first
    after = rows(cli, vectors=True)
    assert len(after) == 5
    assert after[first]["description"] == "my heart"
    assert after[first]["vector"] != before

    # --id puts the file's row under the user's id; indexing keeps it there.
    assert added_id(cli.run("add", "--id", 77, "--file", heart)) == 77
    listed = rows(cli)
    assert len(listed) == 5 and first not in listed and listed[77]["url"] == str(heart)
    report = json.loads(cli.run("index", folder, "--json").stdout)
    assert report["unchanged"] == 5 and report["added"] == 0, report
    assert set(rows(cli)) == set(listed)

    proc = cli.run("add", "--url", "https://example.com/a.svg", check=False)
    assert proc.returncode == 2 and "--url needs --id" in proc.stderr, proc.stderr


def test_a_collection_with_old_ids_keeps_working(clipdex_cli, twemoji_folder, build_dir, tmp_path):
    folder = twemoji_folder("old", first=6, extra=("2764.svg",))
    db = tmp_path / "c.db"
    cli = clipdex_cli(db)
    cli.run("index", folder, "--descriptions", write_descriptions(tmp_path, {"2764.svg": "a red heart"}))
    new = rows(cli, vectors=True)
    # What a collection indexed before December 2026 holds: every file under its 63-bit id.
    moves = [f"{row_id}:{old_id(row['url'])}" for row_id, row in new.items()]
    tool = build_dir / "tests" / "store_fill"
    subprocess.run([tool, "move", str(db), "clipdex", *moves], check=True, capture_output=True, timeout=120)
    old = rows(cli, vectors=True)
    assert sorted(old) == sorted(old_id(row["url"]) for row in new.values())
    assert all(row_id > MAX_SAFE for row_id in old)

    # Search finds the old rows; adding a file finds its old row and moves it to its new id.
    hit = json.loads(cli.run("search", "red heart", "-k", 1, "--json").stdout)[0]["hits"][0]
    heart = folder / "2764.svg"
    assert hit["id"] == old_id(heart) and hit["description"] == "a red heart"
    assert added_id(cli.run("add", "--file", heart)) == home_id(heart)
    assert len(rows(cli)) == 7

    # Indexing moves the rest, encoding nothing again.
    report = json.loads(cli.run("index", folder, "--json").stdout)
    assert report["unchanged"] == 7 and report["added"] == 0 and report["updated"] == 0, report
    moved = rows(cli, vectors=True)
    assert sorted(moved) == sorted(new)
    for row_id, row in moved.items():
        assert row["vector"] == new[row_id]["vector"]
        assert row["added_at"] == new[row_id]["added_at"]
        assert row["description"] == new[row_id]["description"]


def test_search_json_is_an_array_for_any_number_of_queries(clipdex_cli, twemoji_folder, tmp_path):
    cli = clipdex_cli(tmp_path / "c.db")
    cli.run("index", twemoji_folder("search", first=5, extra=("2764.svg",)))
    for queries in (["red heart"], ["red heart", "a dog"]):
        out = json.loads(cli.run("search", *queries, "-k", 3, "--json").stdout)
        assert isinstance(out, list) and [item["query"] for item in out] == queries
        for item in out:
            assert [hit["rank"] for hit in item["hits"]] == [1, 2, 3]
            assert all({"id", "url", "similarity", "score", "rank"} <= set(hit) for hit in item["hits"])
    out = json.loads(cli.run("search", "--image", twemoji_folder("q", extra=("2764.svg",)) / "2764.svg",
                             "-k", 1, "--json").stdout)
    assert isinstance(out, list) and len(out) == 1 and out[0]["hits"][0]["rank"] == 1


def write_descriptions(tmp_path, mapping):
    path = tmp_path / "descriptions.json"
    path.write_text(json.dumps(mapping))
    return path


def test_clipdex_says_its_version(build_dir):
    version = subprocess.run([build_dir / "clipdex", "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == "clipdex 0.1.0", version
