"""A short soak (bench/soak.py): two minutes of Viber conversations in the production profile with the
Rasa server and the action server each SIGKILLed and restarted and the register's database cut for
10 s; afterwards the register holds exactly the readings subscribers were told were accepted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.paths import ROOT


def test_a_short_soak_with_a_restart_of_each_server_stores_exactly_the_acknowledged_readings(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            str(ROOT / "bench/soak.py"),
            "--duration",
            "120",
            "--results",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    assert (tmp_path / "soak.json").exists(), output
    result = json.loads((tmp_path / "soak.json").read_text(encoding="utf-8"))
    register = result["register"]

    assert result["restarts_done"] == 3, output
    assert register["acknowledged_not_stored"] == [], output
    assert register["stored_not_acknowledged"] == [], output
    assert register["acknowledgements_without_a_row"] == [], output
    assert register["meters_with_two_accepted"] == 0, output
    assert register["acknowledged_in_force"] == register["stored_accepted"] >= 40, output
    assert done.returncode == 0, output
