"""Fixtures of the Rasa server's tests: the patches installed once per session, the domain, the
trained model (scripts/train.sh: trained only when missing)."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Before any test module imports Rasa: no telemetry, quiet TensorFlow, the patches as in production.
os.environ["RASA_TELEMETRY_ENABLED"] = "false"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.pop("OTKE_RASA_PATCHES", None)

import pytest  # noqa: E402

with warnings.catch_warnings(record=True):
    # Rasa 3.6's dependencies warn of their own deprecations on import (one of them, aiogram,
    # turns every DeprecationWarning on): import them once, and drop what they say.
    import rasa.core.agent  # noqa: F401
    from rasa.shared.core.domain import Domain

    from custom_components import patches  # imports all it patches; installs nothing


@pytest.fixture(scope="session", autouse=True)
def installed() -> list[str]:
    """Every test runs with the patches installed, as the Rasa server runs."""
    return patches.install()


@pytest.fixture(scope="session")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model for this data (scripts/train.sh trains it only if it is missing)."""
    trained = subprocess.run(
        [str(ROOT / "scripts" / "train.sh")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return Path(trained.stdout.strip().splitlines()[-1])
