#!/usr/bin/env bash
# The conversation designer's check: validate the data, train if needed, run the test stories
# (with the NLU model reading every user line) and the NLU test set, and print a short report.
set -euo pipefail
source "$(dirname "$0")/common.sh"
mkdir -p results

say "Validating domain, data and rules"
# Two warnings are expected and checked elsewhere (tests/unit/test_domain.py): responses the
# action server utters are "not used in any story or rule" as far as Rasa can see, and the
# intents channels send for events have no training examples. Every other warning fails.
EVENT_INTENTS='conversation_started|subscribed|unsubscribed|non_text_message'
expected="is not used in any story or rule|The intent '($EVENT_INTENTS)' is listed in the domain file, but is not found in the NLU training data"
"$RASA" data validate --data data --domain domain.yml --config config.yml >results/validate.log 2>&1 ||
  { grep -v -E 'DeprecationWarning|declare_namespace|pkg_resources|MovedIn20|Base: Decl' results/validate.log | tail -n 30; die "rasa data validate found errors"; }
if grep -E 'UserWarning' results/validate.log | grep -v -q -E "$expected"; then
  grep -E 'UserWarning' results/validate.log | grep -v -E "$expected" | sed 's/^.*UserWarning: /  /'
  die "rasa data validate warned (see above)"
fi
echo "  domain, data and rules are consistent"

model="$(scripts/train.sh | tail -n 1)"

# The stories run twice: as the server runs (with our Rasa patches) and with Rasa as released
# (OTKE_RASA_PATCHES=off), which must decide the same (docs/performance.md).
test_stories() {  # label, patches (on/off), name of the results
  local log="results/$3.log"
  if ! OTKE_RASA_PATCHES="$2" "$RASA" test core --e2e --model "$model" --stories tests/test_stories.yml \
       --out "results/$3" --fail-on-prediction-errors >"$log" 2>&1; then
    grep -A 40 -E 'WrongPredictionException|predicted:' "$log" | head -n 60 || tail -n 40 "$log"
    die "a test story failed $1: the lines marked 'predicted:' show what the assistant did instead (full log: $log)"
  fi
  printf '  %-34s %s\n' "$1:" "$(grep -E 'Correct:|Accuracy' "$log" | tail -n 2 | sed 's/^.* - \s*//; s/\s\+/ /g' | paste -sd ',' | sed 's/,/, /')"
}
say "Test stories (tests/test_stories.yml)"
test_stories "with our Rasa patches" on test-stories
test_stories "without (OTKE_RASA_PATCHES=off)" off test-stories-off

say "NLU test set (tests/nlu/test_nlu.yml)"
"$RASA" test nlu --model "$model" --nlu tests/nlu/test_nlu.yml --out results/nlu >results/test-nlu.log 2>&1 ||
  { tail -n 30 results/test-nlu.log; die "rasa test nlu failed"; }
"$PY" scripts/nlu_report.py results/nlu
