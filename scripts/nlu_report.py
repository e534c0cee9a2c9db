"""Summarise `rasa test nlu` results: accuracy, weakest intents, the misread examples.

Exits non-zero when the intent accuracy falls below NLU_MIN_ACCURACY (default 0.95).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(results: Path) -> int:
    report = json.loads((results / "intent_report.json").read_text(encoding="utf-8"))
    errors_file = results / "intent_errors.json"
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    accuracy = float(report["accuracy"])
    total = int(report["weighted avg"]["support"])
    minimum = float(os.environ.get("NLU_MIN_ACCURACY", "0.95"))
    print(f"  intent accuracy {accuracy:.3f} on {total} held-out utterances (minimum {minimum:.2f})")
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "f1-score" in v and " avg" not in k}
    weakest = sorted(intents.items(), key=lambda item: item[1]["f1-score"])[:5]
    print("  weakest intents: " + ", ".join(f"{name} {v['f1-score']:.2f}" for name, v in weakest))
    for error in errors[:15]:
        predicted = error["intent_prediction"]
        print(
            f"  misread: {error['text']!r}: {error['intent']} -> {predicted['name']} ({predicted['confidence']:.2f})"
        )
    if len(errors) > 15:
        print(f"  ... {len(errors) - 15} more in {errors_file}")
    if accuracy < minimum:
        print(f"NLU accuracy {accuracy:.3f} is below {minimum:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
