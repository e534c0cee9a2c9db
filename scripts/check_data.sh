#!/usr/bin/env bash
# The conversation designer's check: validate the data, train if needed, play the test stories and
# the held-out stories (the NLU model reading every user line) and measure the NLU test set, all in
# one Rasa process (scripts/check_data.py) that prints a short report.
set -euo pipefail
source "$(dirname "$0")/common.sh"
exec "$ROOT/.venv-rasa/bin/python" scripts/check_data.py "$(model_path)"
