#!/usr/bin/env bash
# Refactoring check: a change that must not alter training is run through this before and
# after, and the two folders compared with `cmp` (scripts/same_training.sh OUT_DIR [PYTHON]).
# Trains configs/banks_gru.yaml and configs/tkk_sru.yaml for 3 epochs (seed 13, CPU, 1 thread),
# keeps each run's metrics.json without its timings and machine/version fields, and the
# run's predictions on its own training file.
set -euo pipefail
out=${1:?usage: scripts/same_training.sh OUT_DIR [PYTHON]}
python=${2:-python}
export SENTINET_DATA=${SENTINET_DATA:-../shared/data}
export SENTINET_VECTORS=${SENTINET_VECTORS:-../shared/embeddings}
mkdir -p "$out"
for pair in banks_gru:bank_train_2016.xml tkk_sru:tkk_train_2016.xml; do
  name=${pair%%:*} data=$SENTINET_DATA/sentirueval2016/${pair#*:}
  "$python" -m sentinet train --config "configs/$name.yaml" --set train.epochs=3 \
    --set train.device=cpu --set train.num_threads=1 --set "run.output_dir=$out/runs" >/dev/null
  run=$(ls -d "$out/runs/$name"-* | tail -1)
  "$python" - "$run/metrics.json" > "$out/$name.metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
for key in ("seconds", "machine", "versions"):
    m.pop(key)
for row in m["epochs"]:
    row.pop("seconds")
print(json.dumps(m, indent=2, sort_keys=True))
PY
  "$python" -m sentinet predict "$run" "$data" -o "$out/$name.predictions.csv" 2>/dev/null
done
ls -l "$out"
