#!/usr/bin/env bash
# The issue-4 ablation grid: every variant x both domains x 3 seeds on one fixed dev split
# (grouped: near-duplicate tweets never straddle train and dev). Dev data only.
#   SENTINET_DATA=... SENTINET_VECTORS=... bash scripts/quality_grid.sh OUT_DIR [PARALLEL] [ROUND]
# PARALLEL variants train at once, each with its seeds side by side (made for a GPU box).
# ROUND ablation (default): one change at a time, 3 seeds. ROUND final: combinations, 5 seeds.
set -euo pipefail
out=${1:-runs/quality}
parallel=${2:-1}
round=${3:-ablation}
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}

# In-domain word2vec on the training texts of both domains (no labels, no test texts).
w2v=${W2V:-$out/sentirueval_w2v.bin}
[[ -f $w2v ]] || $py -m sentinet embeddings train \
    "$SENTINET_DATA/sentirueval2016/bank_train_2016.xml" "$SENTINET_DATA/sentirueval2016/tkk_train_2016.xml" \
    --out "$w2v" --set vectors.word2vec.dim=100 --set vectors.word2vec.epochs=20 --workers 8

seeds=$([[ $round == final ]] && echo 5 || echo 3)
common="--set data.split=grouped --set train.num_threads=1 --seeds $seeds --jobs $seeds --output-dir $out"
bal="--set train.class_weights=balanced"
concat="--set vectors.concat=[$w2v]"
run() {  # run LABEL CONFIG [--set ...]: one line per variant, trained below
    local label=$1 config=$2; shift 2
    echo "$py scripts/run_benchmark.py $config --label $label $common $* > $out/$label.log 2>&1"
}
for d in banks tkk; do
    if [[ $round == final ]]; then
        run "${d}_gru_bal_concat" "configs/${d}_gru.yaml" $bal $concat
        run "${d}_gru_concat" "configs/${d}_gru.yaml" $concat
        run "${d}_gru_bal_concat_wd_plateau" "configs/${d}_gru.yaml" $bal $concat \
            --set model.word_dropout=0.1 --set train.scheduler.name=plateau
        run "${d}_cnn_bal_concat" "configs/${d}_cnn.yaml" $bal $concat
        run "${d}_sru_bal_concat" "configs/${d}_sru.yaml" $bal $concat
        continue
    fi
    run "${d}_gru_random" "configs/${d}_gru.yaml" --set data.split=random
    run "${d}_gru" "configs/${d}_gru.yaml"
    run "${d}_gru_bal" "configs/${d}_gru.yaml" --set train.class_weights=balanced
    run "${d}_gru_bal_wd" "configs/${d}_gru.yaml" --set train.class_weights=balanced --set model.word_dropout=0.1
    run "${d}_gru_bal_plateau" "configs/${d}_gru.yaml" --set train.class_weights=balanced --set train.scheduler.name=plateau
    run "${d}_gru_bal_ls" "configs/${d}_gru.yaml" --set train.class_weights=balanced --set train.label_smoothing=0.1
    run "${d}_gru_bal_concat" "configs/${d}_gru.yaml" --set train.class_weights=balanced --set "vectors.concat=[$w2v]"
    run "${d}_gru_bal_unfreeze" "configs/${d}_gru.yaml" --set train.class_weights=balanced --set vectors.unfreeze_epoch=3
    for enc in lstm sru cnn; do
        run "${d}_${enc}_bal" "configs/${d}_${enc}.yaml" --set train.class_weights=balanced
    done
done > "$out/commands.txt"
xargs -P "$parallel" -I{} sh -c {} < "$out/commands.txt"
$py scripts/run_benchmark.py --from-runs "$out" --results "$out/RESULTS.md"
