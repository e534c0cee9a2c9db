"""The fault tests' stacks, started once per test module (named after it in tests/output/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def production_stack(
    model_path: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Production profile, started once per test module (named after it in tests/output/)."""
    name = f"faults-{request.module.__name__.rsplit('.', 1)[-1]}-production"
    with running_stack(name, model_path, "production", tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(scope="module")
def embedded_stack(
    model_path: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The embedded default (in-memory tracker and lock stores), started once per test module."""
    name = f"faults-{request.module.__name__.rsplit('.', 1)[-1]}-embedded"
    with running_stack(name, model_path, "embedded", tmp_path_factory.mktemp("stack")) as stack:
        yield stack
