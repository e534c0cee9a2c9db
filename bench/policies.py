"""Which dialogue policies: each candidate trained on the same domain and data, timed, and tested.

For every candidate policy list (the NLU pipeline of config.yml stays as it is) it times
`rasa train` from scratch, runs the test stories (tests/test_stories.yml) and the held-out stories
(tests/test_held_out_stories.yml: paths in no training story or rule) end to end, and times the
dialogue's next-action prediction on the held-out conversations in process. Results:
bench/results/policies.json and .md; docs/designing.md quotes them.

    .venv-rasa/bin/python bench/policies.py [--candidates rules,memo,augmented,augmented+ted]

It runs in .venv-rasa (it imports Rasa). Not part of `make test`: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"

RULES: dict[str, Any] = {
    "name": "RulePolicy",
    "core_fallback_threshold": 0.3,
    "core_fallback_action_name": "action_default_fallback",
    "enable_fallback_prediction": True,
}
CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "rules": [RULES],
    "memo": [RULES, {"name": "MemoizationPolicy", "max_history": 4}],
    "augmented": [RULES, {"name": "AugmentedMemoizationPolicy", "max_history": 4}],
    "augmented+ted": [
        RULES,
        {"name": "AugmentedMemoizationPolicy", "max_history": 4},
        {"name": "TEDPolicy", "max_history": 5, "epochs": 40, "constrain_similarities": True},
    ],
}


def env() -> dict[str, str]:
    return os.environ | {
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def write_config(policies: list[dict[str, Any]], path: Path) -> None:
    yaml = YAML()
    config = yaml.load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config["policies"] = policies
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(config, out)


def train(config: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(RASA), "train", "--config", str(config), "--domain", "domain.yml", "--data", "data",
         "--out", str(out), "--fixed-model-name", "model", "--force"],
        cwd=ROOT, env=env(), check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def test_stories(model: Path, stories: str, out: Path) -> dict[str, int]:
    done = subprocess.run(
        [str(RASA), "test", "core", "--e2e", "--model", str(model), "--stories", stories, "--out", str(out)],
        cwd=ROOT, env=env(), capture_output=True, text=True,
    )  # fmt: skip
    counts = re.findall(r"Correct:\s+(\d+) / (\d+)", done.stdout + done.stderr)
    if len(counts) < 2:
        raise RuntimeError(f"rasa test core gave no figures for {stories}:\n{done.stderr[-2000:]}")
    (stories_ok, stories_all), (actions_ok, actions_all) = counts[-2], counts[-1]
    return {
        "stories_passed": int(stories_ok),
        "stories": int(stories_all),
        "actions_correct": int(actions_ok),
        "actions": int(actions_all),
    }


def prediction_ms(model: Path, repeats: int = 5) -> float:
    """Median time of one next-action prediction over every turn of the held-out stories."""
    code = f"""
import asyncio, json, statistics, time
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.training_data.structures import StoryGraph
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
agent = Agent.load({str(model)!r})
domain = agent.domain
steps = YAMLStoryReader(domain).read_from_file({str(ROOT / "tests" / "test_held_out_stories.yml")!r})
trackers = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0, remove_duplicates=False).generate()
prefixes = [
    DialogueStateTracker.from_events("bench", list(t.events)[:end], slots=domain.slots)
    for t in trackers
    for end, event in enumerate(t.events)
    if isinstance(event, ActionExecuted)
]
times = []
for _ in range({repeats}):
    for prefix in prefixes:
        started = time.perf_counter()
        agent.processor._predict_next_with_tracker(prefix)
        times.append((time.perf_counter() - started) * 1000)
print(json.dumps(statistics.median(times)))
"""
    done = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", code],
        cwd=ROOT, env=env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="otke-policies-") as tmp:
        for name in args.candidates.split(","):
            work = Path(tmp) / name
            work.mkdir()
            config = work / "config.yml"
            write_config(CANDIDATES[name], config)
            seconds = train(config, work)
            model = work / "model.tar.gz"
            row: dict[str, Any] = {"candidate": name, "policies": [p["name"] for p in CANDIDATES[name]]}
            row["train_s"] = round(seconds, 1)
            row["test_stories"] = test_stories(model, "tests/test_stories.yml", work / "test")
            row["held_out"] = test_stories(model, "tests/test_held_out_stories.yml", work / "held-out")
            row["prediction_ms_p50"] = round(prediction_ms(model), 2)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            shutil.rmtree(work / "test", ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "policies.json").write_text(
        json.dumps({"candidates": rows}, indent=2) + "\n", encoding="utf-8"
    )
    lines = [
        "# Dialogue policies, measured on the same domain, data and stories",
        "",
        "| candidate | policies | rasa train | test stories | held-out stories | held-out actions | prediction p50 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        test, held = row["test_stories"], row["held_out"]
        lines.append(
            f"| {row['candidate']} | {' + '.join(row['policies'])} | {row['train_s']} s "
            f"| {test['stories_passed']} / {test['stories']} | {held['stories_passed']} / {held['stories']} "
            f"| {held['actions_correct']} / {held['actions']} | {row['prediction_ms_p50']} ms |"
        )
    (RESULTS / "policies.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
