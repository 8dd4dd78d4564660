"""The emoji drawings the tests index (Twemoji from npm, fetched by scripts/deps.sh), shared by
tests/integration and tests/python."""
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TWEMOJI = REPO / ".cache" / "npm" / "node_modules" / "@twemoji" / "svg"


def twemoji_maker(tmp_path_factory):
    """A factory make(folder_name, first=N, extra=("2764.svg",)) -> a new folder holding the first
    N Twemoji drawings in name order plus the named extras."""
    if not TWEMOJI.is_dir():
        pytest.fail(f"npm test data missing ({TWEMOJI}): run scripts/deps.sh")

    def make(folder_name, first=0, extra=()):
        folder = tmp_path_factory.mktemp("twemoji") / folder_name
        folder.mkdir()
        for path in sorted(TWEMOJI.glob("*.svg"))[:first] + [TWEMOJI / name for name in extra]:
            shutil.copyfile(path, folder / path.name)
        return folder

    return make
