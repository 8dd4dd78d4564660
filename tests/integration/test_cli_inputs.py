"""Hostile and mistaken inputs to the CLI's row commands (issue #12, findings 7, 8 and 10):
out-of-range ids are errors instead of clamped onto another row, files are read with a bound
that holds while reading, directories say so, and an SVG gives one vector whichever command
encodes it."""
import json
import time

import numpy as np

INT64_MAX = 9223372036854775807

SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 24" width="36" height="24">
<rect width="36" height="24" fill="#fc3"/><circle cx="12" cy="12" r="9" fill="#d22"/>
<path d="M20 4 L34 20 L20 20 Z" fill="#239"/></svg>"""


def rows(cli):
    return {row["id"]: row for row in json.loads(cli.run("list", "--limit", "-1", "--json", "--vectors").stdout)}


def test_out_of_range_ids_are_refused_and_touch_no_row(tmp_path, clipdex_cli):
    cli = clipdex_cli(tmp_path / "c.db")
    image = tmp_path / "a.svg"
    image.write_bytes(SVG)
    cli.run("add", "--id", INT64_MAX, "--file", image, "--description", "the last id")
    before = rows(cli)
    for too_big in ("99999999999999999999", "9223372036854775808", "-9223372036854775809"):
        proc = cli.run("add", "--id", too_big, "--file", image, check=False)
        assert proc.returncode == 2, proc.stderr
        assert f"'{too_big}' is outside the 64-bit signed range" in proc.stderr
        proc = cli.run("remove", too_big, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "outside the 64-bit signed range" in proc.stderr
    for junk in ("12abc", "1e3", "", "0x10"):
        proc = cli.run("add", "--id", junk, "--file", image, check=False)
        assert proc.returncode == 2 and "is not a whole decimal integer" in proc.stderr, proc.stderr
    assert rows(cli) == before
    assert before[INT64_MAX]["description"] == "the last id"


def test_add_file_reads_with_a_bound_and_names_directories(tmp_path, clipdex_cli):
    cli = clipdex_cli(tmp_path / "c.db")
    start = time.monotonic()
    proc = cli.run("add", "--id", 1, "--file", "/dev/zero", check=False, timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode != 0
    assert "add: --file '/dev/zero': the file exceeds the limit of 67108864 bytes" in proc.stderr
    proc = cli.run("add", "--id", 1, "--file", tmp_path, check=False)
    assert proc.returncode == 2
    assert f"add: --file '{tmp_path}': is a directory, not a file" in proc.stderr
    assert "basic_ios" not in proc.stderr and "iostream" not in proc.stderr
    proc = cli.run("add", "--id", 1, "--file", tmp_path / "missing.png", check=False)
    assert proc.returncode == 3 and "no such file" in proc.stderr


def test_an_svg_has_one_vector_whichever_command_encodes_it(tmp_path, clipdex_cli):
    """`embed` used to rasterise SVGs at 224 pixels and `add`/`index` at the model's input size
    (64 for the emoji model): cosine 0.9975 between the two answers for one file."""
    cli = clipdex_cli(tmp_path / "c.db")
    image = tmp_path / "flag.svg"
    image.write_bytes(SVG)
    embedded = json.loads(cli.run("embed", "--image", image).stdout)["items"][0]["embedding"]
    cli.run("add", "--id", 5, "--file", image)
    (tmp_path / "copy.svg").write_bytes(SVG)
    cli.run("index", tmp_path)
    stored = rows(cli)
    # The add's row (indexing found it by its path: no second row) and the copy's.
    assert len(stored) == 2 and stored[5]["url"] == str(image)
    for row in stored.values():
        np.testing.assert_allclose(row["vector"], embedded, rtol=0, atol=1e-6)
