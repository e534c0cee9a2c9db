"""Two Rasa instances locking one conversation at once: RasaHQ/rasa#9213 and our fix.

Rasa's own RedisLockStore fails the same probe (lost counts, lock errors, minutes of waiting on
tickets that were never removed): `.venv-rasa/bin/python tests/scaleout/lock_probe.py stock 14 200`
with PYTHONPATH=. reproduces it; docs/operations.md, "Scale-out", has the figures.

Each probe process is a separate lock-store client, as two Rasa instances are; inside the lock
each does a read-sleep-write on a shared counter, so any moment of two holders loses a count.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("lock_probe.py")
ROUNDS = 200
REDIS_DB = "14"


def probe(store: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(ROOT / ".venv-rasa/bin/python"), str(PROBE), store, REDIS_DB, str(ROUNDS)],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_atomic_lock_store_never_lets_two_instances_in_at_once() -> None:
    atomic = probe("atomic")
    assert atomic == {
        "store": "atomic",
        "expected": 2 * ROUNDS,
        "counted": 2 * ROUNDS,
        "lock_errors": 0,
        "locks_left": 0,
    }
