#!/usr/bin/env bash
# Create or refresh the two Python environments from their locks; quick when nothing changed.
#   .venv-rasa  the Rasa server: rasa 3.6.21 on Python 3.10 (3.11 where 3.10 is missing)
#   .venv       the action server, the otke command and the tests: Python 3.11
set -euo pipefail
source "$(dirname "$0")/common.sh"

# First interpreter among the candidates that really runs (pyenv shims exist even when inactive).
find_python() {
  local candidate
  for candidate in "$@"; do
    if [[ -x "$candidate" || -n "$(command -v "$candidate" 2>/dev/null)" ]] &&
       "$candidate" -c 'import sys, venv' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

pyenv_root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"

# A venv is current when its stamp is newer than every file it was built from.
venv_current() {
  local stamp="$1/.installed"; shift
  [[ -f "$stamp" ]] || return 1
  local source
  for source in "$@"; do [[ "$source" -nt "$stamp" ]] && return 1; done
  return 0
}

make_venv() {  # dir python lock [extra pip flags...]
  local dir="$1" python="$2" lock="$3"; shift 3
  say "Installing $dir from $lock with $("$python" --version 2>&1)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  quiet_pip "$dir" install --upgrade pip==24.2
  quiet_pip "$dir" install --no-deps "$@" -r "$lock"
}

# pip, minus the warnings this machine's extra local indexes print for every package.
quiet_pip() {
  local dir="$1"; shift
  "$dir/bin/python" -m pip --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2)
}

if ! venv_current .venv-rasa requirements/rasa.txt; then
  if python="$(find_python python3.10 "$pyenv_root"/versions/3.10*/bin/python)"; then
    make_venv .venv-rasa "$python" requirements/rasa.txt
  elif python="$(find_python python3.11 "$pyenv_root"/versions/3.11*/bin/python)"; then
    # rasa declares Python < 3.11; the lock carries the pins that make it work on 3.11.
    make_venv .venv-rasa "$python" requirements/rasa.txt --ignore-requires-python
  else
    die "Rasa 3.6 needs Python 3.10 (or 3.11). Install one, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv', then run make again."
  fi
  .venv-rasa/bin/rasa --version >/dev/null 2>&1 || die ".venv-rasa was installed but 'rasa --version' fails"
  touch .venv-rasa/.installed
fi

# The Rasa server's test tools (tests/rasa) on top of its lock, refreshed when either lock changed;
# the production image installs requirements/rasa.txt only.
dev_stamp=.venv-rasa/.installed-dev
if [[ ! -f "$dev_stamp" || .venv-rasa/.installed -nt "$dev_stamp" || requirements/rasa-dev.txt -nt "$dev_stamp" ]]; then
  say "Installing the Rasa server's test tools from requirements/rasa-dev.txt"
  quiet_pip .venv-rasa install --no-deps -r requirements/rasa-dev.txt
  touch "$dev_stamp"
fi

if ! venv_current .venv requirements/actions.txt pyproject.toml; then
  python="$(find_python python3.11 "$pyenv_root"/versions/3.11*/bin/python)" ||
    die "The action server needs Python 3.11. Install it, e.g. 'pyenv install 3.11.7' or 'apt-get install python3.11 python3.11-venv', then run make again."
  make_venv .venv "$python" requirements/actions.txt
  quiet_pip .venv install --no-deps --no-build-isolation -e .
  touch .venv/.installed
fi

# The web chat widget's one dependency, socket.io-client, from the npm registry by its lock.
if command -v npm >/dev/null 2>&1; then
  if [[ ! -f webchat/node_modules/.installed || webchat/package-lock.json -nt webchat/node_modules/.installed ]]; then
    say "Installing the web chat's packages from webchat/package-lock.json"
    npm ci --prefix webchat --no-audit --no-fund --loglevel=error
    touch webchat/node_modules/.installed
  fi
  mkdir -p webchat/public/vendor
  cp -u webchat/node_modules/socket.io-client/dist/socket.io.min.js webchat/public/vendor/
elif [[ "${REQUIRE_WEBCHAT:-}" == 1 ]]; then
  die "The web chat needs Node.js and npm (e.g. 'apt-get install nodejs npm')."
else
  printf 'note: npm not found: the web chat page will not be served (install Node.js and npm)\n' >&2
fi
