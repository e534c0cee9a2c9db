"""The conversation designer's check in one Rasa process (run by scripts/check_data.sh).

Validates domain, data and config, trains the model unless the one named by scripts/common.sh's
hash exists, loads it once (our Rasa patches install themselves, as in the server) and plays
against it the test stories, the held-out stories and the NLU test set. It prints a short report;
Rasa's own output goes to results/check-data.log and the figures to results/check-data.json.

Fails (exit 1) on a validation warning other than the two expected kinds, a wrong prediction in a
test story, intent accuracy below NLU_MIN_ACCURACY or an annotated entity type's F1 below
ENTITY_MIN_F1 (both default 0.95). Held-out stories are measured, never failed.

Usage: check_data.py MODEL (the path scripts/common.sh's model_path prints)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib
import json
import logging
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rasa.core.agent import Agent

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
LOG = RESULTS / "check-data.log"
FIGURES = RESULTS / "check-data.json"
MODELS = ROOT / "models"
KEEP_MODELS = 5  # as scripts/train.sh
TEST_STORIES = "tests/test_stories.yml"
HELD_OUT_STORIES = "tests/test_held_out_stories.yml"
NLU_TEST_SET = "tests/nlu/test_nlu.yml"

# Two warnings are expected and checked elsewhere (tests/unit/test_domain.py): responses the
# action server utters are "not used in any story or rule" as far as Rasa can see, and the
# intents channels send for events have no training examples. Every other warning fails.
EVENT_INTENTS = ("conversation_started", "subscribed", "unsubscribed", "non_text_message")
EXPECTED_WARNINGS = re.compile(
    "is not used in any story or rule|"
    f"The intent '({'|'.join(EVENT_INTENTS)})' is listed in the domain file, "
    "but is not found in the NLU training data"
)
# set by a button's payload (/intent{"meter_id":"7"}), never read from text
UNSCORED_ENTITIES = frozenset({"meter_id"})
MISREAD_SHOWN = 15


class CheckFailed(Exception):
    """A step found a problem the designer must fix; the message says which."""


# --- scores (pure: tests/unit/test_check_data_report.py) -------------------------------------


def unexpected_warnings(messages: Iterable[str]) -> list[str]:
    return [message for message in messages if not EXPECTED_WARNINGS.search(message)]


@dataclass
class Score:
    """Counts of one label (an intent or an entity type) over a test set."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def support(self) -> int:
        """How often the test set has this label."""
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "support": self.support,
        }


def intent_scores(pairs: Iterable[tuple[str, str]]) -> dict[str, Score]:
    """Per intent, from (annotated, predicted) pairs."""
    scores: dict[str, Score] = {}
    for annotated, predicted in pairs:
        if annotated == predicted:
            scores.setdefault(annotated, Score()).true_positives += 1
        else:
            scores.setdefault(annotated, Score()).false_negatives += 1
            scores.setdefault(predicted, Score()).false_positives += 1
    return scores


def entity_value(value: object) -> str:
    """Values compare as typed ("007" is not "7"), without surrounding space or case."""
    return str(value).strip().casefold()


def entity_pairs(entities: Iterable[Mapping[str, Any]], predicted: bool) -> set[tuple[str, str]]:
    """The (entity, value) pairs of one example; a value is the synonym's when one is given."""
    return {
        (str(entity["entity"]), entity_value(entity.get("value")))
        for entity in entities
        if entity.get("entity") not in UNSCORED_ENTITIES
        and not (predicted and entity.get("extractor") is None)
    }


def entity_scores(examples: Iterable[tuple[set[tuple[str, str]], set[tuple[str, str]]]]) -> dict[str, Score]:
    """Per entity type, from each example's (annotated, predicted) pairs."""
    scores: dict[str, Score] = {}
    for annotated, predicted in examples:
        for entity, _ in annotated & predicted:
            scores.setdefault(entity, Score()).true_positives += 1
        for entity, _ in annotated - predicted:
            scores.setdefault(entity, Score()).false_negatives += 1
        for entity, _ in predicted - annotated:
            scores.setdefault(entity, Score()).false_positives += 1
    return scores


def listed(entities: Iterable[Mapping[str, Any]]) -> str:
    """Entities as a designer writes them: meter_kind=heat, reading_value=123,45."""
    return ", ".join(f"{entity['entity']}={entity.get('value')}" for entity in entities) or "none"


def entity_table(scores: Mapping[str, Score]) -> list[str]:
    lines = [f"{'entity':<18} {'precision':>9} {'recall':>7} {'F1':>5} {'annotated':>10}"]
    for name, score in sorted(scores.items()):
        lines.append(
            f"{name:<18} {score.precision:>9.2f} {score.recall:>7.2f} {score.f1:>5.2f} {score.support:>10}"
        )
    return lines


def threshold(name: str, default: float) -> float:
    raw = os.environ.get(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise CheckFailed(f"{name} must be a number such as {default}, not {raw!r}") from None


# --- the report ---------------------------------------------------------------------------------


class ErrorsLogged(logging.Handler):
    """The ERROR records Rasa logs (a story setting a slot the domain lacks, say), to fail on."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[record.getMessage()] += 1


class Report:
    """What the designer reads (the terminal) and what docs quote (results/check-data.json)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.errors_logged = ErrorsLogged()
        self.failures: list[str] = []
        self.figures: dict[str, Any] = {"durations_s": {}}
        self.started = time.monotonic()

    def say(self, title: str) -> None:
        self.out.write(f"\033[1m==> {title}\033[0m\n")
        self.out.flush()
        logging.getLogger(__name__).info("==> %s", title)

    def line(self, text: str) -> None:
        self.out.write(f"  {text}\n")
        self.out.flush()
        logging.getLogger(__name__).info("  %s", text)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Times a step; fails it when Rasa logged an error meanwhile."""
        started = time.monotonic()
        self.errors_logged.messages.clear()
        try:
            yield
        finally:
            self.figures["durations_s"][name] = round(time.monotonic() - started, 1)
        if self.errors_logged.messages:
            for message, times in self.errors_logged.messages.most_common(5):
                self.line(f"Rasa: {message}" + (f" ({times} times)" if times > 1 else ""))
            self.fail(f"Rasa logged errors ({name.replace('_', ' ')}: above, all in {relative(LOG)})")

    def write_figures(self) -> None:
        self.figures["durations_s"]["total"] = round(time.monotonic() - self.started, 1)
        FIGURES.write_text(json.dumps(self.figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def output_to_log(log: TextIO) -> Iterator[tuple[TextIO, TextIO]]:
    """Everything written to stdout and stderr, Rasa's and its libraries' included, goes to the log;
    yields the terminal's stdout and stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    err = os.fdopen(os.dup(2), "w", encoding="utf-8", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield out, err
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        out.close()
        err.close()


def configure_logging(log: TextIO, errors: logging.Handler) -> None:
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s  %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler, errors], force=True)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    # Rasa's structured log (structlog) goes through the handler above
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)


# --- 1. validation ------------------------------------------------------------------------------


def validate(report: Report) -> None:
    """`rasa data validate`'s checks, without --fail-on-warnings; any other UserWarning fails."""
    import rasa.cli.utils
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.utils.common import EXPECTED_WARNINGS as RASA_EXPECTED_WARNINGS

    report.say("Validating domain, data and rules")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the ones the rasa command hides (rasa.utils.common._filter_warnings)
        for category, message in RASA_EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=f".*{message}", category=category)
        importer = TrainingDataImporter.load_from_config(
            config_path="config.yml", domain_path="domain.yml", training_data_paths=["data"]
        )
        try:
            rasa.cli.utils.validate_files(False, None, importer)
            valid = True
        except SystemExit:
            valid = False
    said = [" ".join(str(warning.message).split()) for warning in caught if warning.category is UserWarning]
    for warning in caught:
        logging.getLogger("py.warnings").warning("%s: %s", warning.category.__name__, warning.message)
    unexpected = unexpected_warnings(said)
    for message in unexpected:
        report.line(message)
    if not valid:
        raise CheckFailed(f"rasa data validate found errors (above; the whole log is {relative(LOG)})")
    if unexpected:
        raise CheckFailed("rasa data validate warned (see above)")
    report.line("domain, data and rules are consistent")


# --- 2. the model -------------------------------------------------------------------------------


def ensure_model(report: Report, model: Path) -> None:
    """Train unless `model` exists; one training at a time per checkout, as scripts/train.sh."""
    import rasa.model_training

    (ROOT / "var").mkdir(exist_ok=True)
    with open(ROOT / "var" / "train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if model.exists():
            report.say(f"Model is up to date: {relative(model)}")
            return
        report.say("Training the model (config, domain or data changed)")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=ROOT / "var", prefix="training-") as scratch:
            try:
                result = rasa.model_training.train(
                    domain="domain.yml",
                    config="config.yml",
                    training_files=["data"],
                    output=scratch,
                    fixed_model_name=model.name.removesuffix(".tar.gz"),
                )
            except Exception as error:
                logging.getLogger(__name__).exception("training failed")
                raise CheckFailed(
                    f"training failed: {root_cause(error)} (the whole log is {relative(LOG)})"
                ) from error
            if result.code != 0 or not result.model:
                raise CheckFailed(f"training failed; the whole log is {relative(LOG)}")
            MODELS.mkdir(exist_ok=True)
            # whole or absent: a server or test that finds the name loads a complete model
            os.replace(result.model, model)
        report.line(f"trained in {time.monotonic() - started:.0f} s: {relative(model)}")
        for old in sorted(MODELS.glob("otke-*.tar.gz"), key=lambda path: path.stat().st_mtime)[:-KEEP_MODELS]:
            old.unlink(missing_ok=True)


def load_agent(report: Report, model: Path) -> Agent:
    from rasa.core.agent import Agent

    from custom_components.patches import installing

    agent = Agent.load(model_path=str(model))
    if not agent.is_ready():
        raise CheckFailed(f"the model {relative(model)} did not load (log: {relative(LOG)})")
    # RasaPatches, first in config.yml's pipeline, installs them when Rasa creates it
    installed = installing._installed
    if installed is None:
        raise CheckFailed(
            "the model loaded without custom_components.patches.RasaPatches: "
            "config.yml's pipeline must start with it, as the server's does"
        )
    state = (
        f"with our {len(installed)} Rasa patches"
        if installed
        else "with Rasa as released (OTKE_RASA_PATCHES=off)"
    )
    report.line(f"loaded {state}")
    return agent


# --- 3. stories ---------------------------------------------------------------------------------


@dataclass
class StoryResult:
    name: str
    actions_correct: int
    actions: int
    mistakes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mistakes


async def play_stories(agent: Agent, path: str) -> list[StoryResult]:
    """Each story as `rasa test core --e2e` plays it: the NLU model reads every user line, the
    policies predict every action. Files need no test_ prefix here."""
    from rasa.core.test import (
        WronglyClassifiedUserUtterance,
        WronglyPredictedAction,
        _predict_tracker_actions,
    )
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.utils import story_graph_from_paths

    if not (ROOT / path).is_file():
        raise CheckFailed(f"{path} is missing")
    if agent.domain is None:
        raise CheckFailed("the model has no domain")
    graph = story_graph_from_paths([path], agent.domain)
    trackers = TrainingDataGenerator(
        graph, agent.domain, use_story_concatenation=False, augmentation_factor=0
    ).generate_story_trackers()
    if not trackers:
        raise CheckFailed(f"{path} has no stories")
    results = []
    for tracker in trackers:
        store, played, _, _ = await _predict_tracker_actions(
            tracker, agent, fail_on_prediction_errors=False, use_e2e=True
        )
        correct = sum(t == p for t, p in zip(store.action_targets, store.action_predictions, strict=True))
        result = StoryResult(tracker.sender_id, correct, len(store.action_targets))
        said = "the start"
        for event in played.events:
            if isinstance(event, WronglyClassifiedUserUtterance):
                if event.predicted_intent != event.intent_name:
                    result.mistakes.append(
                        f'"{event.text}" was read as {event.predicted_intent}, not {event.intent_name}'
                    )
                if event.target_entities != event.predicted_entities:
                    result.mistakes.append(
                        f'"{event.text}": entities found {listed(event.predicted_entities)}, '
                        f"the story has {listed(event.target_entities)}"
                    )
            elif isinstance(event, WronglyPredictedAction):
                result.mistakes.append(
                    f"after {said}: expected {event.action_name}, predicted {event.action_name_prediction}"
                )
            if isinstance(event, UserUttered):
                said = f'"{event.text}"' if event.text else (event.intent_name or "a user turn")
        if store.check_prediction_target_mismatch() and not result.mistakes:
            result.mistakes.append("a prediction differs from the story (see the log)")
        results.append(result)
    return results


def story_figures(results: list[StoryResult]) -> dict[str, Any]:
    return {
        "stories": {"passed": sum(r.passed for r in results), "total": len(results)},
        "actions": {
            "correct": sum(r.actions_correct for r in results),
            "total": sum(r.actions for r in results),
        },
        "failed": [r.name for r in results if not r.passed],
    }


async def test_stories(report: Report, agent: Agent) -> None:
    report.say(f"Test stories ({TEST_STORIES})")
    results = await play_stories(agent, TEST_STORIES)
    figures = story_figures(results)
    report.figures["test_stories"] = figures
    stories, actions = figures["stories"], figures["actions"]
    report.line(
        f"Correct: {stories['passed']} / {stories['total']} stories, "
        f"{actions['correct']} / {actions['total']} actions"
    )
    for result in results:
        if not result.passed:
            report.line(f'story "{result.name}":')
            for mistake in result.mistakes:
                report.line(f"  {mistake}")
    if figures["failed"]:
        report.fail(
            f"{len(figures['failed'])} test stories failed: the lines above show what the assistant did instead"
        )


async def held_out_stories(report: Report, agent: Agent) -> None:
    report.say(f"Held-out stories ({HELD_OUT_STORIES}: measured, never failed)")
    results = await play_stories(agent, HELD_OUT_STORIES)
    figures = story_figures(results)
    report.figures["held_out_stories"] = figures
    stories, actions = figures["stories"], figures["actions"]
    report.line(
        f"held-out stories: {stories['passed']} / {stories['total']} stories "
        f"({100 * stories['passed'] / stories['total']:.0f} %), actions {actions['correct']} / {actions['total']}"
    )
    for result in results:
        if not result.passed:
            report.line(f'failed: "{result.name}"')
            for mistake in result.mistakes:
                logging.getLogger(__name__).info("    %s", mistake)
    if figures["failed"]:
        report.line(f"what went wrong in each: {relative(LOG)}")


# --- 4. NLU -------------------------------------------------------------------------------------


async def test_nlu(report: Report, agent: Agent) -> None:
    from rasa.nlu.classifiers import fallback_classifier
    from rasa.shared.nlu.training_data.loading import load_data

    report.say(f"NLU test set ({NLU_TEST_SET})")
    min_accuracy = threshold("NLU_MIN_ACCURACY", 0.95)
    min_f1 = threshold("ENTITY_MIN_F1", 0.95)
    examples = load_data(str(ROOT / NLU_TEST_SET), language="uk").nlu_examples
    if not examples:
        raise CheckFailed(f"{NLU_TEST_SET} has no examples")
    intents: list[tuple[str, str]] = []
    misread: list[str] = []
    fallbacks = 0
    entities: list[tuple[set[tuple[str, str]], set[tuple[str, str]]]] = []
    for example in examples:
        text, annotated = example.get("text"), example.get("intent")
        parsed = await agent.parse_message(text)
        if fallback_classifier.is_fallback_classifier_prediction(parsed):
            # as `rasa test nlu`: score the intent the fallback hid, count the fallback apart
            fallbacks += 1
            parsed = fallback_classifier.undo_fallback_prediction(parsed)
        predicted, confidence = parsed["intent"].get("name"), parsed["intent"].get("confidence") or 0.0
        intents.append((annotated, str(predicted)))
        if predicted != annotated:
            misread.append(f"misread: {text!r}: {annotated} -> {predicted} ({confidence:.2f})")
        entities.append(
            (
                entity_pairs(example.get("entities") or [], predicted=False),
                entity_pairs(parsed.get("entities", []), True),
            )
        )

    accuracy = sum(a == p for a, p in intents) / len(intents)
    by_intent = intent_scores(intents)
    report.line(
        f"intent accuracy {accuracy:.3f} on {len(intents)} held-out utterances (minimum {min_accuracy:.2f})"
    )
    annotated_intents = {a for a, _ in intents}
    weakest = sorted((s.f1, name) for name, s in by_intent.items() if name in annotated_intents)[:5]
    report.line("weakest intents: " + ", ".join(f"{name} {f1:.2f}" for f1, name in weakest))
    if fallbacks:
        report.line(
            f"{fallbacks} of them fall below the FallbackClassifier's threshold (the assistant asks again)"
        )
    for line in misread[:MISREAD_SHOWN]:
        report.line(line)
    if len(misread) > MISREAD_SHOWN:
        report.line(f"... {len(misread) - MISREAD_SHOWN} more in {relative(LOG)}")
        for line in misread[MISREAD_SHOWN:]:
            logging.getLogger(__name__).info("  %s", line)
    if accuracy < min_accuracy:
        report.fail(f"NLU accuracy {accuracy:.3f} is below {min_accuracy:.2f}")

    by_entity = entity_scores(entities)
    report.figures["nlu"] = {
        "examples": len(intents),
        "intent_accuracy": round(accuracy, 4),
        "fallbacks": fallbacks,
        "intents": {name: score.as_dict() for name, score in sorted(by_intent.items())},
        "entities": {name: score.as_dict() for name, score in sorted(by_entity.items())},
    }
    if not any(score.support for score in by_entity.values()):
        report.line(f"entities: {NLU_TEST_SET} annotates none, so none are scored")
        found = Counter(name for _, predicted in entities for name, _ in predicted)
        if found:
            report.line("found anyway: " + ", ".join(f"{name} {n}" for name, n in sorted(found.items())))
        return
    report.line(f"entities (each (entity, value) pair; minimum F1 {min_f1:.2f}; meter_id not scored):")
    for line in entity_table(by_entity):
        report.line(f"  {line}")
    weak = [name for name, score in sorted(by_entity.items()) if score.support and score.f1 < min_f1]
    if weak:
        report.fail(f"entity F1 below {min_f1:.2f}: {', '.join(weak)}")


# --- the whole check ----------------------------------------------------------------------------


def root_cause(error: BaseException) -> str:
    """The innermost exception: Rasa wraps a component's error in its own."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return f"{type(error).__name__}: {error}"


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


async def evaluate(report: Report, model: Path) -> None:
    with report.step("load"):
        agent = load_agent(report, model)
    with report.step("test_stories"):
        await test_stories(report, agent)
    with report.step("held_out_stories"):
        await held_out_stories(report, agent)
    with report.step("nlu"):
        await test_nlu(report, agent)


def check(report: Report, model: Path) -> None:
    report.figures["model"] = relative(model)
    with report.step("validate"):
        validate(report)
    with report.step("train"):
        ensure_model(report, model)
    asyncio.run(evaluate(report, model))


def main(model: Path) -> int:
    os.chdir(ROOT)
    os.environ.setdefault("TQDM_DISABLE", "1")  # Rasa's progress bars would fill the log
    sys.path.insert(0, str(ROOT))  # config.yml names custom_components.*
    RESULTS.mkdir(exist_ok=True)
    with open(LOG, "w", encoding="utf-8", buffering=1) as log, output_to_log(log) as (terminal, errors):
        report = Report(terminal)
        try:
            with report.step("start"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Rasa's dependencies' import-time deprecations
                # The logistic regression's persistence (skops) walks every loaded module for each
                # sklearn type when imported: 1 s before Rasa's 5000 modules, 4 s after.
                importlib.import_module("skops.io")
                import rasa.core.agent  # noqa: F401
            configure_logging(log, report.errors_logged)
            check(report, model)
        except CheckFailed as failure:
            report.fail(str(failure))
        except Exception as error:
            logging.getLogger(__name__).exception("check_data.py stopped")
            report.fail(f"{root_cause(error)} (traceback in {relative(LOG)})")
        finally:
            with contextlib.suppress(OSError):
                report.write_figures()
        for message in report.failures:
            errors.write(f"\033[31merror:\033[0m {message}\n")
            log.write(f"error: {message}\n")
        if not report.failures:
            report.line(
                f"all good in {report.figures['durations_s']['total']:.0f} s; figures in {relative(FIGURES)}"
            )
        return 1 if report.failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        sys.exit(main(Path(sys.argv[1]).resolve()))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
