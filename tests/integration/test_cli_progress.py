"""Progress output of `clipdex index` (issue #14, "Progress output"): piped, the summary is the
one line at the end (the last step was printed twice); on a terminal, files skipped as unchanged
do not count in the rate and ETA (a re-index showed "40141.1/s")."""
import os
import pty
import re
import subprocess


def run_on_terminal(cli, *args):
    """Runs clipdex with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([cli.binary, *cli.base, *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=secondary, stdin=subprocess.DEVNULL)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    return proc.wait(timeout=600), out.decode(errors="replace")


def test_piped_progress_prints_the_summary_once(tmp_path, clipdex_cli, twemoji_folder):
    folder = twemoji_folder("piped", first=12)
    cli = clipdex_cli(tmp_path / "p.db")
    proc = cli.run("index", folder)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("indexing")]
    assert lines == ["indexing: 12 files"], proc.stderr


def test_unchanged_files_do_not_count_in_the_rate(tmp_path, clipdex_cli, twemoji_folder):
    folder = twemoji_folder("tty", first=40)
    cli = clipdex_cli(tmp_path / "t.db")
    cli.run("index", folder)
    code, screen = run_on_terminal(cli, "index", folder)  # every file unchanged
    assert code == 0, screen
    draws = [d for d in re.split(r"\r\x1b\[K", screen) if d.startswith("indexing [")]
    assert draws, screen
    last = draws[-1]
    assert "40/40" in last and "40 unchanged" in last, last
    assert re.search(r"\s0\.0/s", last), last  # nothing was encoded
    assert "indexing: 40 files" in screen
