#!/usr/bin/env bash
# Re-resolve requirements/rasa.txt, rasa-dev.txt and actions.txt from requirements/*.in.
# Needs the package index; run it when a top-level pin changes, then `make test`.
set -euo pipefail
source "$(dirname "$0")/common.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pyenv_root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
py310="$(command -v python3.10 || ls "$pyenv_root"/versions/3.10*/bin/python | tail -n 1)"
py311="$(command -v python3.11 || ls "$pyenv_root"/versions/3.11*/bin/python | tail -n 1)"

say "Resolving the Rasa server lock on $("$py310" --version)"
"$py310" -m venv "$work/rasa"
"$work/rasa/bin/pip" install --quiet pip==24.2
"$work/rasa/bin/pip" install --quiet -r requirements/rasa.in
{
  sed -n '1,4p' requirements/rasa.txt
  # matplotlib < 3.6 (what rasa asks for) has no wheel for 3.11; 3.8 works there.
  "$work/rasa/bin/pip" freeze --all | grep -v -E '^(pip|wheel)==' |
    sed -E 's/^matplotlib==(.*)$/matplotlib==\1; python_version < "3.11"\nmatplotlib==3.8.4; python_version >= "3.11"\ncontourpy==1.2.1; python_version >= "3.11"/'
} >"$work/rasa.txt"
mv "$work/rasa.txt" requirements/rasa.txt

say "Resolving the Rasa server's test tools against that lock"
"$work/rasa/bin/pip" install --quiet -c requirements/rasa.txt -r requirements/rasa-dev.in
{
  sed -n '1,4p' requirements/rasa-dev.txt
  # what the Rasa lock does not already pin (markers aside), wheel included: rasa.txt leaves it out
  LC_ALL=C comm -13 <(grep -v '^#' requirements/rasa.txt | sed 's/;.*//' | LC_ALL=C sort) \
                    <("$work/rasa/bin/pip" freeze --all | grep -v -E '^pip==' | LC_ALL=C sort)
} >"$work/rasa-dev.txt"
mv "$work/rasa-dev.txt" requirements/rasa-dev.txt

say "Resolving the action server lock on $("$py311" --version)"
"$py311" -m venv "$work/actions"
"$work/actions/bin/pip" install --quiet pip==24.2
"$work/actions/bin/pip" install --quiet -r requirements/actions.in
{
  sed -n '1,2p' requirements/actions.txt
  "$work/actions/bin/pip" freeze --all | grep -v -E '^pip=='
} >"$work/actions.txt"
mv "$work/actions.txt" requirements/actions.txt
say "Locks written; run 'make test'"
