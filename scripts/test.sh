#!/usr/bin/env bash
# Every check, in the order that fails fastest: services, lint, the Rasa server's tests, Rasa data
# and test stories (make check-data), pytest beside the test stories with Rasa as released.
# Extra arguments go to pytest (e.g. `scripts/test.sh -k billing`).
set -euo pipefail
source "$(dirname "$0")/common.sh"

ensure_postgres() {
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  say "PostgreSQL is down: starting it"
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$version" ]] || die "PostgreSQL is not installed (no /etc/postgresql); the tests need it at 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    die "could not start PostgreSQL $version; the tests need it at 127.0.0.1:5432"
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  die "PostgreSQL did not come up at 127.0.0.1:5432"
}

ensure_redis() {
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
  say "Redis is down: starting it"
  command -v redis-server >/dev/null || die "Redis is not installed; the Viber tests need it at 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || die "could not start Redis"
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  die "Redis did not come up at 127.0.0.1:6379"
}

# Debian's Chromium for the browser tests, pinned to the version they were written against
# (falling back to the archive's current one when a security update replaced it).
CHROMIUM_VERSION="156.0.8078.79-1~deb12u1"
ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return 0
  say "Installing Debian's chromium for the browser tests"
  command -v apt-get >/dev/null || die "the browser tests need Debian's chromium at /usr/bin/chromium"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "chromium=$CHROMIUM_VERSION" >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
    die "could not install chromium"
}

ensure_postgres
ensure_redis
ensure_chromium

say "Lint: ruff, mypy and the import contracts"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy actions
# the Rasa server's code, against the Rasa environment's packages (Python 3.10)
.venv/bin/mypy --python-executable .venv-rasa/bin/python --python-version 3.10 custom_components custom_channels tests/rasa/*.py
mkdir -p results
.venv/bin/lint-imports --no-cache >results/import-contracts.log 2>&1 ||
  { cat results/import-contracts.log; die "an import breaks a layer contract (pyproject.toml [tool.importlinter])"; }
grep -E '^Contracts:' results/import-contracts.log | sed 's/^/  /'

say "The Rasa server's patches and components (tests/rasa, in .venv-rasa)"
.venv-rasa/bin/pytest -c tests/rasa/pytest.ini --rootdir tests/rasa tests/rasa

scripts/check_data.sh

# The test stories once more with Rasa as released (patches are installed per process and cannot
# be undone, so in a process of its own): every decision must stay the same (docs/performance.md).
# It runs beside pytest; its verdict comes after pytest's.
say "Test stories with Rasa as released (OTKE_RASA_PATCHES=off), in the background"
OTKE_RASA_PATCHES=off "$RASA" test core --e2e --model "$(model_path)" --stories tests/test_stories.yml \
  --out results/test-stories-off --fail-on-prediction-errors >results/test-stories-off.log 2>&1 &
stories_off=$!
trap 'kill "$stories_off" 2>/dev/null || true' EXIT

say "pytest (PostgreSQL at 127.0.0.1:5432)"
pytest_status=0
.venv/bin/pytest "$@" || pytest_status=$?

say "Test stories with Rasa as released (OTKE_RASA_PATCHES=off)"
if ! wait "$stories_off"; then
  grep -A 40 -E 'WrongPredictionException|predicted:' results/test-stories-off.log | head -n 60 ||
    tail -n 40 results/test-stories-off.log
  die "the test stories pass with our Rasa patches but fail without them (OTKE_RASA_PATCHES=off): a patch changes what the dialogue decides; the lines marked 'predicted:' show what Rasa as released did (full log: results/test-stories-off.log)"
fi
trap - EXIT
correct() { grep -A1 "Evaluation Results on $1 level" results/test-stories-off.log | grep -oE '[0-9]+ / [0-9]+'; }
echo "  Correct: $(correct CONVERSATION) stories, $(correct ACTION) actions, as with our patches"
[[ $pytest_status -eq 0 ]] || die "pytest failed (above)"
