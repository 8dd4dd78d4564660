"""The command line beside a running `clipdex serve` (issue #14).

The server holds the database for writing. Read commands (search, list, stats, info) open it
read-only and answer beside it; write commands (add, remove, index, migrate into it, a second
serve) are refused with exit 7 before any model loads, naming the server's pid and what works
instead: `kill PID`, or the curl line that sends the change through the server, which these tests
follow literally. Once the server stops, writes work again. `serve` binds its port before it loads
a model, so a port in use fails at once."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request

import pytest

CONFLICT = 7  # README: exit codes


@pytest.fixture(scope="module")
def drawings(twemoji_folder):
    return twemoji_folder("beside", first=12, extra=("2764.svg", "1f431.svg"))


@pytest.fixture
def served(clipdex_cli, start_server, serve_folder, drawings, tmp_path):
    """(cli, server, static files): a database of the drawings but the cat, held by a running
    server that may fetch from loopback (the static files)."""
    cli = clipdex_cli(tmp_path / "held.db")
    cli.run("index", *sorted(path for path in drawings.iterdir() if path.name != "1f431.svg"))
    server = start_server(cli, "--allow-private-urls")
    yield cli, server, serve_folder(drawings)
    if server.proc.poll() is None:
        assert server.stop() == 0


def ids_of(cli):
    return {row["id"]: row for row in json.loads(cli.run("list", "--limit", "-1", "--json").stdout)}


def refused(cli, *args):
    """Runs a write command that must be refused; returns its one-line error."""
    proc = cli.run(*args, check=False, timeout=60)
    assert proc.returncode == CONFLICT, (args, proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clipdex: error (conflict): "), proc.stderr
    return lines[0]


def curl_line(advice: str) -> str:
    """The command at the end of the advice, after "send the change through it ...: "."""
    assert "send the change through it" in advice, advice
    return advice[advice.index(": curl ") + 2:]


def follow_curl(advice: str, token: str | None = None):
    """Does what the advice's curl line says, with urllib: -X method, -H headers, -d body, then
    every URL. The line must parse as shell words. Returns [(status, answer)] per URL."""
    line = curl_line(advice)
    words = shlex.split(line)
    assert words[0] == "curl", line
    method, headers, body, urls = "GET", {}, None, []
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-X":
            method = words[i + 1]
        elif word == "-H":
            name, value = words[i + 1].split(":", 1)
            headers[name] = value.strip().replace("$CLIPDEX_TOKEN", token or "")
        elif word == "-d":
            body = words[i + 1].encode()
        else:
            assert not word.startswith("-"), f"unexpected curl option {word} in {line}"
            urls.append(word)
            i += 1
            continue
        i += 2
    answers = []
    for url in urls:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                answers.append((answer.status, json.loads(answer.read())))
        except urllib.error.HTTPError as error:
            answers.append((error.code, json.loads(error.read())))
    return answers


def test_reads_work_beside_the_server(served):
    cli, server, _ = served
    hits = json.loads(cli.run("search", "red heart", "-k", "1", "--json", timeout=120).stdout)
    assert pathlib.PurePosixPath(hits[0]["hits"][0]["url"]).name == "2764.svg"
    rows = ids_of(cli)
    assert len(rows) == 13
    stats = json.loads(cli.run("stats", "--json").stdout)
    assert stats["total_records"] == 13
    assert json.loads(cli.run("info", "--json").stdout)["num_entities"] == 13
    # The server still writes while a reader has the file open, and the next read sees it.
    status, body = server.request("DELETE", f"/v1/delete?id={min(rows)}")
    assert status == 200, body
    assert json.loads(cli.run("stats", "--json").stdout)["total_records"] == 12


def test_add_by_url_is_refused_with_a_curl_line_that_works(served):
    cli, server, files = served
    pid = server.proc.pid
    before = ids_of(cli)
    error = refused(cli, "add", "--id", "4242", "--url", f"{files.base}/1f431.svg", "--description", "l'chat")
    assert f"clipdex serve (pid {pid}, serving {server.base}) holds " in error, error
    assert f"stop it (kill {pid}) and run this command again" in error, error
    assert ids_of(cli) == before, "the refused add wrote something"
    [(status, answer)] = follow_curl(error)
    assert status == 200 and answer["id"] == 4242, answer
    row = ids_of(cli)[4242]
    assert row["url"] == f"{files.base}/1f431.svg" and row["description"] == "l'chat"


def test_remove_is_refused_with_a_curl_line_that_works(served):
    cli, _, _ = served
    rows = sorted(ids_of(cli))
    gone = rows[:2]
    error = refused(cli, "remove", *gone)
    answers = follow_curl(error)
    assert [status for status, _ in answers] == [200, 200], answers
    assert set(ids_of(cli)) == set(rows[2:])


def test_index_and_add_file_are_refused_before_any_model_loads(served, drawings, tmp_path):
    cli, server, _ = served
    pid = server.proc.pid
    # A model that does not exist: loading it would fail with not_found (3), so exit 7 and its
    # message show that the refusal came first.
    for args in (("index", drawings), ("add", "--id", "1", "--file", drawings / "2764.svg"),
                 ("migrate", tmp_path / "other.db", cli.base[1])):
        proc = subprocess.run([cli.binary, "--db", cli.base[1], "--model", tmp_path / "no-such-model", *map(str, args)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == CONFLICT, (args, proc.stderr)
        assert f"stop it (kill {pid}) and run this command again" in proc.stderr, proc.stderr
        assert "no-such-model" not in proc.stderr
    error = refused(cli, "add", "--id", "1", "--file", drawings / "2764.svg")
    assert f"adds images by URL only: POST {server.base}/v1/add" in error
    # A second server on the same database is told to use the first.
    error = refused(cli, "serve", "--port", "0")
    assert f"use that server, or stop it (kill {pid})" in error


def test_migrate_reads_from_the_held_database(served, tmp_path):
    cli, _, _ = served
    copy = tmp_path / "copy.db"
    proc = subprocess.run([cli.binary, "migrate", cli.base[1], str(copy), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["copied"] == 13


def test_writes_work_again_once_the_server_stops(served, drawings):
    cli, server, _ = served
    lock = pathlib.Path(cli.base[1] + ".lock")
    assert f'"pid":{server.proc.pid}' in lock.read_text()
    assert server.stop() == 0
    assert lock.read_text() == "", "the stopped server left its owner line"
    cli.run("add", "--id", "99", "--file", drawings / "1f431.svg")
    cli.run("remove", "99")
    report = json.loads(cli.run("index", drawings, "--json").stdout)
    assert report["added"] == 1  # the cat, kept out of the first index


def test_a_killed_servers_lock_does_not_refuse_writes(clipdex_cli, start_server, drawings, tmp_path):
    cli = clipdex_cli(tmp_path / "killed.db")
    server = start_server(cli)
    server.proc.kill()
    server.proc.wait()
    assert f'"pid":{server.proc.pid}' in pathlib.Path(cli.base[1] + ".lock").read_text()
    cli.run("add", "--id", "1", "--file", drawings / "2764.svg")
    assert list(ids_of(cli)) == [1]


def test_a_token_is_passed_through_the_environment(clipdex_cli, start_server, serve_folder, drawings, tmp_path):
    cli = clipdex_cli(tmp_path / "guarded.db")
    files = serve_folder(drawings)
    server = start_server(cli, "--allow-private-urls", serve_args=("--bearer-token", "s3cret"))
    try:
        error = refused(cli, "add", "--id", "5", "--url", f"{files.base}/2764.svg")
        assert "put it in CLIPDEX_TOKEN" in error and "s3cret" not in error, error
        # The line runs in a shell with the variable set.
        line = curl_line(error)
        env = dict(os.environ, CLIPDEX_TOKEN="s3cret")
        curl = subprocess.run(["sh", "-c", line + " -s -o /dev/null -w '%{http_code}'"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert curl.stdout == "200", (line, curl.stdout, curl.stderr)
        assert list(ids_of(cli)) == [5]
    finally:
        assert server.stop() == 0


def test_reads_of_what_does_not_exist_create_nothing(clipdex_cli, drawings, tmp_path):
    missing = tmp_path / "missing.db"
    cli = clipdex_cli(missing)
    for args in (("list",), ("stats",), ("info",), ("search", "a cat")):
        proc = cli.run(*args, check=False, timeout=60)
        assert proc.returncode == 3, (args, proc.stderr)
        assert f"database {missing} does not exist" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == [], "a read created files"
    held = clipdex_cli(tmp_path / "one.db")
    held.run("add", "--id", "1", "--file", drawings / "2764.svg")
    for args in (("list",), ("search", "a cat")):
        proc = held.run("--collection", "nope", *args, check=False, timeout=60)
        assert proc.returncode == 3, proc.stderr
        assert "collection 'nope' does not exist" in proc.stderr, proc.stderr
    proc = held.run("--collection", "nope", "stats", check=False)
    assert proc.returncode == 3, "the first read created the collection"


def test_a_port_in_use_fails_before_the_model_loads(clipdex_cli, start_server, tmp_path):
    server = start_server(clipdex_cli(tmp_path / "first.db"))
    try:
        other = tmp_path / "second.db"
        start = time.monotonic()
        proc = subprocess.run([clipdex_cli(other).binary, "--db", str(other), "--model", str(tmp_path / "no-model"),
                               "serve", "--port", str(server.port)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 6, proc.stderr
        assert re.search(rf"cannot listen on 127\.0\.0\.1:{server.port}", proc.stderr), proc.stderr
        assert "no-model" not in proc.stderr
        assert time.monotonic() - start < 5
        assert not other.exists()
    finally:
        assert server.stop() == 0
