#!/usr/bin/env bash
# Train the model unless one for exactly this config, domain and data exists; print its path last.
set -euo pipefail
source "$(dirname "$0")/common.sh"

model="$(model_path)"
# One training at a time per checkout: a second caller waits, then finds the model made.
mkdir -p var
exec 9>var/train.lock
flock 9
if [[ -f "$model" ]]; then
  say "Model is up to date: ${model#"$ROOT"/}" >&2
else
  say "Training the model (config, domain or data changed)" >&2
  start=$SECONDS
  "$RASA" train --config config.yml --domain domain.yml --data data \
    --out models --fixed-model-name "$(basename "$model" .tar.gz)" >var/train.log 2>&1 ||
    { tail -n 40 var/train.log >&2; die "training failed; the whole log is var/train.log"; }
  say "Trained in $((SECONDS - start)) s: ${model#"$ROOT"/}" >&2
  # keep the newest few models, drop the rest
  ls -1t models/otke-*.tar.gz 2>/dev/null | tail -n +6 | xargs -r rm -f
fi
echo "$model"
