"""scripts/serve.sh starts Rasa in the production profile with no HTTP API and no REST channel.

serve.sh and common.sh run as they are, from a copy of the scripts beside a stand-in ``rasa`` that
records its arguments and a stand-in ``train.sh`` (no model, no server): what matters is the
command line serve.sh builds. tests/scaleout/test_two_instances.py checks the running servers of
that profile (REST webhook and /conversations answer 404).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGV_OUT"], "w") as out:
    json.dump(sys.argv[1:], out)
"""


def run_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """serve.sh run as it is, beside a stand-in `rasa` that writes its arguments to argv.json."""
    (tmp_path / "scripts").mkdir()
    for script in ("serve.sh", "common.sh"):
        shutil.copy(ROOT / "scripts" / script, tmp_path / "scripts" / script)
    train = tmp_path / "scripts" / "train.sh"
    train.write_text("#!/usr/bin/env bash\necho models/otke-test.tar.gz\n")
    rasa = tmp_path / ".venv-rasa" / "bin" / "rasa"
    rasa.parent.mkdir(parents=True)
    rasa.write_text(RECORDER)
    for executable in (train, rasa):
        executable.chmod(0o755)
    return subprocess.run(
        ["bash", str(tmp_path / "scripts" / "serve.sh"), "rasa", *args],
        env={"PATH": os.environ["PATH"], "ARGV_OUT": str(tmp_path / "argv.json"), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def serve(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """The arguments serve.sh hands to `rasa` for this environment."""
    done = run_serve(tmp_path, *args, **env)
    assert done.returncode == 0, done.stderr
    argv: list[str] = json.loads((tmp_path / "argv.json").read_text())
    return argv


# Everything an operator might try to switch the API on with: arguments, Rasa's own option names
# as variables, a token that would protect it.
ATTEMPTS = {
    "nothing": ((), {}),
    "arguments": (("--enable-api", "--auth-token", "x"), {}),
    "variables": ((), {"RASA_ENABLE_API": "true", "ENABLE_API": "1", "RASA_AUTH_TOKEN": "s3cret"}),
}


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_production_rasa_runs_without_the_http_api(tmp_path: Path, attempt: str) -> None:
    args, env = ATTEMPTS[attempt]
    argv = serve(tmp_path, *args, OTKE_PROFILE="production", **env)
    assert argv[0] == "run"
    assert argv[argv.index("--credentials") + 1] == "deploy/credentials.production.yml"
    assert argv[argv.index("--endpoints") + 1] == "deploy/endpoints.production.yml"
    assert not {"--enable-api", "--auth-token", "--jwt-secret", "--jwt-method"} & set(argv)
    assert "s3cret" not in argv


def test_the_local_profile_runs_without_the_http_api_too(tmp_path: Path) -> None:
    argv = serve(tmp_path)
    assert argv[argv.index("--credentials") + 1] == "credentials.yml"
    assert "--enable-api" not in argv


def test_production_refuses_a_fixed_clock(tmp_path: Path) -> None:
    done = run_serve(tmp_path, OTKE_PROFILE="production", OTKE_NOW="2026-11-27T12:00:00+02:00")
    assert done.returncode != 0
    assert "OTKE_NOW" in done.stderr
    assert not (tmp_path / "argv.json").exists()  # rasa never started


def channels(credentials: str) -> set[str]:
    loaded = YAML(typ="safe").load((ROOT / credentials).read_text(encoding="utf-8"))
    return set(loaded)


def test_production_channels_are_viber_and_the_web_chat_only() -> None:
    assert channels("deploy/credentials.production.yml") == {
        "custom_channels.viber.ViberInput",
        "custom_channels.webchat.WebChatInput",
    }


def test_the_local_rest_channel_is_ours_not_rasas() -> None:
    # Rasa's own REST channel lets a caller choose the input channel, i.e. any Viber subscriber.
    local = channels("credentials.yml")
    assert "rest" not in local and "custom_channels.rest.RestInput" in local


def test_the_production_action_server_refuses_to_start_without_database_url() -> None:
    """Loading the dialogue, as `python -m rasa_sdk --actions actions.dialogue` does at start."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    load = (
        "from rasa_sdk.executor import ActionExecutor; ActionExecutor().register_package('actions.dialogue')"
    )
    done = subprocess.run(
        [sys.executable, "-c", load],
        cwd=ROOT,
        env={**env, "OTKE_PROFILE": "production"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "DATABASE_URL is not set, and the production profile" in done.stderr
    local = subprocess.run(
        [sys.executable, "-c", load],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert local.returncode == 0, local.stderr  # the local profile falls back to the embedded file
