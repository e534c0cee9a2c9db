# Shared by the scripts behind `make`: paths, environment and the trained-model cache.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export RASA_TELEMETRY_ENABLED=false        # no internet here, and no telemetry anywhere
export SQLALCHEMY_SILENCE_UBER_WARNING=1   # Rasa 3.6's own use of SQLAlchemy 1.4
export TF_CPP_MIN_LOG_LEVEL=2
export PYTHONDONTWRITEBYTECODE=1

RASA="$ROOT/.venv-rasa/bin/rasa"
PY="$ROOT/.venv/bin/python"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The model is named by a hash of everything that shapes it (data, config, NLU components, Rasa lock), so an unchanged project never retrains.
model_hash() {
  {
    sha256sum config.yml domain.yml requirements/rasa.txt
    find data custom_components -type f \( -name '*.yml' -o -name '*.py' \) -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}

model_path() { echo "$ROOT/models/otke-$(model_hash).tar.gz"; }
