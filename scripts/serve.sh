#!/usr/bin/env bash
# Start the servers of a deployment: no demo data, the model trained only if missing.
#   scripts/serve.sh rasa      one Rasa server on $RASA_PORT (default 5005)
#   scripts/serve.sh actions   one action server on $ACTION_PORT (default 5055)
# OTKE_PROFILE=production takes deploy/endpoints.production.yml and deploy/credentials.production.yml
# (shared PostgreSQL tracker store, atomic Redis lock store, no REST channel); anything else takes
# the local endpoints.yml and credentials.yml. SANIC_WORKERS sets Rasa's worker processes.
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "${OTKE_PROFILE:-local}" in
  production) endpoints=deploy/endpoints.production.yml credentials=deploy/credentials.production.yml ;;
  local) endpoints=endpoints.yml credentials=credentials.yml ;;
  *) die "OTKE_PROFILE must be 'local' or 'production', not '$OTKE_PROFILE'" ;;
esac
if [[ "${OTKE_PROFILE:-local}" == production && -n "${OTKE_NOW:-}" ]]; then
  die "OTKE_NOW fixes the clock (for tests); a production server must run on real time: unset it"
fi

case "${1:-}" in
  rasa)
    model="$(scripts/train.sh | tail -n 1)"
    exec "$RASA" run --model "$model" --port "${RASA_PORT:-5005}" --endpoints "$endpoints" \
      --credentials "$credentials" ${WEBCHAT_ORIGINS:+--cors ${WEBCHAT_ORIGINS//,/ }}
    ;;
  actions)
    .venv/bin/otke db upgrade
    exec "$PY" -m rasa_sdk --actions actions.dialogue --port "${ACTION_PORT:-5055}"
    ;;
  *) die "usage: scripts/serve.sh rasa|actions" ;;
esac
