"""Shared pytest fixtures: where the C++ build and the shared test assets live."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def build_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("CLIPDEX_BUILD_DIR", REPO / "build"))
    if not path.is_dir():
        pytest.fail(f"build directory {path} is missing: run `make build` first")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    return SHARED


@pytest.fixture(scope="session")
def emoji_model_dir() -> pathlib.Path:
    return SHARED / "models" / "emoji-clip-tiny"
