#!/usr/bin/env bash
# Bring the product up locally: migrate, seed the demo register, train if needed, start the
# action server and the Rasa server, print where everything is, and stop both on Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
WEBCHAT_PORT="${WEBCHAT_PORT:-8080}"
CONSOLE_PORT="${CONSOLE_PORT:-8090}"
export WEBCHAT_ORIGINS="${WEBCHAT_ORIGINS:-http://localhost:$WEBCHAT_PORT,http://127.0.0.1:$WEBCHAT_PORT}"
mkdir -p var

say "Database: $(.venv/bin/python -c 'from actions.register.db import redacted_url; print(redacted_url())')"
.venv/bin/otke db upgrade
.venv/bin/otke seed-demo
model="$(scripts/train.sh | tail -n 1)"

if [[ -z "${VIBER_AUTH_TOKEN:-}" ]]; then
  # Not connected to Viber: a local token lets the channel start and accept locally signed callbacks.
  export VIBER_AUTH_TOKEN="local-development-token"
  export VIBER_API_URL="${VIBER_API_URL:-http://127.0.0.1:9/viber-not-configured}"
  viber_note="not connected (VIBER_AUTH_TOKEN unset; callbacks signed with '$VIBER_AUTH_TOKEN' are accepted)"
else
  viber_note="connected; point the public account here with: .venv/bin/otke viber set-webhook https://<host>/webhooks/viber/webhook"
fi

# endpoints.yml, with the action server's port and the conversations kept in a SQLite file under
# var/ (they survive a restart, and the console reads them there)
endpoints="var/endpoints.yml"
{
  sed "s#localhost:5055#localhost:$ACTION_PORT#" endpoints.yml
  printf '\ntracker_store:\n  type: SQL\n  dialect: sqlite\n  db: var/conversations.sqlite3\n'
} >"$endpoints"
export TRACKER_DB_URL="sqlite:///$PWD/var/conversations.sqlite3"

# the console's demo staff, one per role, with passwords made on first run and kept in var/
users_file=var/console-users.txt
if [[ ! -s "$users_file" ]]; then
  umask 077
  : >"$users_file"
  for role in operator designer admin; do
    password="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(12))')"
    .venv/bin/otke console add-user "$role" --role "$role" --password-stdin <<<"$password" >/dev/null 2>&1 || true
    printf '%s %s\n' "$role" "$password" >>"$users_file"
  done
  umask 022
fi

pids=()
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    say "Stopping the servers"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop EXIT
trap 'exit 0' INT TERM

say "Starting the action server on port $ACTION_PORT (log: var/action-server.log)"
"$PY" -m rasa_sdk --actions actions.dialogue --port "$ACTION_PORT" >var/action-server.log 2>&1 &
pids+=($!)
IFS=, read -ra cors_origins <<<"$WEBCHAT_ORIGINS"
say "Starting the Rasa server on port $RASA_PORT (log: var/rasa-server.log)"
"$RASA" run --model "$model" --port "$RASA_PORT" --endpoints "$endpoints" \
  --credentials credentials.yml --cors "${cors_origins[@]}" >var/rasa-server.log 2>&1 &
pids+=($!)
if [[ -f webchat/public/vendor/socket.io.min.js ]]; then
  say "Serving the web chat page on port $WEBCHAT_PORT"
  "$PY" -m http.server "$WEBCHAT_PORT" --bind 127.0.0.1 --directory webchat/public >var/webchat.log 2>&1 &
  pids+=($!)
  webchat_note="http://localhost:$WEBCHAT_PORT/"
else
  webchat_note="not served (npm was not found; install Node.js and npm, then run make again)"
fi

wait_for() {  # url name pid
  local deadline=$((SECONDS + 300))
  until curl -fs -o /dev/null "$1"; do
    kill -0 "$3" 2>/dev/null || die "the $2 stopped while starting; see its log in var/"
    ((SECONDS < deadline)) || die "the $2 did not answer at $1 within 300 s; see its log in var/"
    sleep 1
  done
}
say "Starting the console on port $CONSOLE_PORT (log: var/console.log)"
.venv/bin/otke console serve --port "$CONSOLE_PORT" --workers 1 >var/console.log 2>&1 &
pids+=($!)

wait_for "http://localhost:$ACTION_PORT/health" "action server" "${pids[0]}"
wait_for "http://localhost:$RASA_PORT/webhooks/rest/" "Rasa server" "${pids[1]}"
wait_for "http://localhost:$CONSOLE_PORT/healthz" "console" "${pids[-1]}"

cat <<INFO

  OTKE assistant is running (Ctrl-C stops every server).

  Rasa server          http://localhost:$RASA_PORT/
  REST channel         http://localhost:$RASA_PORT/webhooks/rest/webhook
  Viber webhook        http://localhost:$RASA_PORT/webhooks/viber/webhook
                       $viber_note
  Web chat page        $webchat_note
  Staff console        http://localhost:$CONSOLE_PORT/  (users and passwords: $users_file)
  Action server        http://localhost:$ACTION_PORT/health
  Database             $(.venv/bin/python -c 'from actions.register.db import redacted_url; print(redacted_url())')
  Conversations        var/conversations.sqlite3 (Rasa's SQL tracker store)
  Logs                 var/rasa-server.log, var/action-server.log, var/console.log

  Try it:
    curl -s localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
         -d '{"sender": "demo", "message": "Привіт"}'

  Demo accounts: 12345 (meters 111111 heat, 222222 hot water), 23456 (333333 hot water),
                 34567 (444444 heat, 555555 hot water).

INFO
wait -n "${pids[@]}" || true
die "a server stopped unexpectedly; see var/rasa-server.log and var/action-server.log"
