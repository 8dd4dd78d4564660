"""Command-line usage errors (issue #14, "The command line"): every parse error and unknown
command exits 2 (bad input, as documented) with one line that says what to do; a near-miss
command name gets a suggestion; --help still exits 0."""
import subprocess

import pytest


def run(build_dir, *args):
    return subprocess.run([str(build_dir / "clipdex"), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, message", [
    (["serch", "a dog"], "unknown command 'serch'; did you mean 'search'?"),
    (["--db", "x.db", "lst"], "unknown command 'lst'; did you mean 'list'?"),
    (["--threads", "2", "stat"], "unknown command 'stat'; did you mean 'stats'?"),
    (["--allow-private-urls", "lst"], "unknown command 'lst'; did you mean 'list'?"),  # a flag takes no value
    (["se"], "did you mean 'search', 'serve' or 'serve-encoder'?"),
    (["s"], "unknown command 's'; run 'clipdex --help'"),  # more than 3 commands begin with it
    (["encode-server", "--help"], "unknown command 'encode-server'; run 'clipdex --help'"),
    ([], "no command given; run 'clipdex --help'"),
    (["search", "--bogus", "x"], "--bogus (see 'clipdex search --help')"),
    (["search", "--top-k", "abc", "x"], "--top-k: Value abc not in range"),
    (["serve", "--port", "70000"], "(see 'clipdex serve --help')"),
    (["list", "extra", "words"], "(see 'clipdex list --help')"),
])
def test_usage_errors_exit_2_with_one_clear_line(build_dir, tmp_path, args, message):
    proc = run(build_dir, *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clipdex: error (invalid_input): "), proc.stderr
    assert message in lines[0], proc.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["index", "--help"]])
def test_help_exits_0(build_dir, args):
    proc = run(build_dir, *args)
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout


def test_command_statuses_pass_through(tmp_path, clipdex_cli):
    """Exit 8 (some inputs failed) is the command's own status, not a usage error; a path that
    does not exist is refused before any work (exit 3, not 8 as one failed file)."""
    cli = clipdex_cli(tmp_path / "s.db")
    proc = cli.run("index", tmp_path / "no such folder", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "'" + str(tmp_path / "no such folder") + "': no such file or folder" in proc.stderr
    assert not (tmp_path / "s.db").exists()
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not a picture")
    proc = cli.run("index", folder, check=False)
    assert proc.returncode == 8, proc.stderr
    assert "broken.png" in proc.stderr and "invalid_input" not in proc.stderr
    proc = cli.run("remove", "12345", check=False)
    assert proc.returncode == 8, proc.stderr
