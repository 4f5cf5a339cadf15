#!/usr/bin/env bash
# The one-change round of docs/RESULTS.md (its banks and telecom candidate tables, the baselines,
# transfer, the candidate ensembles and the samplers), as it was run: each candidate is the
# word2vec config (best_*.yaml with the in-domain word2vec; banks on the banks file alone) with
# one change, seeds 1..5, temporal folds (2), 2 runs x 1 thread side by side. Dev data only.
# Takes about 4 hours on the project's 2-core CPU.
#   SENTINET_DATA=../shared/data SENTINET_VECTORS=../shared/embeddings bash scripts/experiments/best_config_candidates.sh [OUT]
# Needs data/vectors/sentirueval_{w2v,ft}.bin (scripts/experiments/train_best.sh trains both).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the checkout
out=${1:-runs/candidates}
py=${PYTHON:-python}
w2v='vectors.concat=[./data/vectors/sentirueval_w2v.bin]'  # the in-domain vectors of the word2vec configs
ft='vectors.concat=[./data/vectors/sentirueval_ft.bin]'
banks='data.train=sentirueval2016/bank_train_2016.xml'  # best_banks.yaml before the telecom file joined it
cross='data.train=[sentirueval2016/bank_train_2016.xml,sentirueval2016/tkk_train_2016.xml]'
folds() { $py scripts/experiments/score_candidates.py "$1" --label "$2" --seeds 5 --protocols "${PROTOCOLS:-folds}" \
            --jobs 2 --threads 1 --output-dir "$out" "${@:3}"; }

folds configs/best_banks.yaml banks_best --set "$w2v" --set "$banks"
folds configs/best_banks.yaml banks_ft --set "$ft" --set "$banks"
folds configs/best_tkk.yaml tkk_best --set "$w2v"
folds configs/best_tkk.yaml tkk_ft --set "$ft"
folds configs/best_banks.yaml banks_aux --set "$w2v" --set "$banks" --set train.aux_lm.weight=0.5
folds configs/best_banks.yaml banks_aux_full --set "$w2v" --set "$banks" --set train.aux_lm.weight=0.5 --set train.aux_lm.softmax=full
folds configs/best_banks.yaml banks_aux_unl --set "$w2v" --set "$banks" --set train.aux_lm.weight=0.5 \
    --set 'data.unlabeled=[sentirueval2016/tkk_train_2016.xml]'
folds configs/default_banks.yaml banks_default
folds configs/best_banks.yaml banks_cross --set "$ft" --set "$cross"   # = today's best_banks.yaml
# The other protocols (random dev, temporal dev) of the rows above
PROTOCOLS=random,temporal folds configs/best_banks.yaml banks_ft --set "$ft" --set "$banks"
PROTOCOLS=random folds configs/best_banks.yaml banks_best --set "$w2v" --set "$banks"
PROTOCOLS=random,temporal folds configs/best_banks.yaml banks_aux --set "$w2v" --set "$banks" --set train.aux_lm.weight=0.5
PROTOCOLS=random,temporal folds configs/best_banks.yaml banks_aux_full --set "$w2v" --set "$banks" \
    --set train.aux_lm.weight=0.5 --set train.aux_lm.softmax=full
PROTOCOLS=random,temporal folds configs/best_banks.yaml banks_cross --set "$ft" --set "$cross"
PROTOCOLS=random,temporal folds configs/best_tkk.yaml tkk_best --set "$w2v"
PROTOCOLS=random,temporal folds configs/best_tkk.yaml tkk_ft --set "$ft"

# Ensembles of candidates ("mixed" rows): every seed's fold models of the candidates averaged (sentinet ensemble).
$py scripts/experiments/score_candidate_ensembles.py "$out" banks_best banks_aux banks_ft --out "$out/mixed_banks"
$py scripts/experiments/score_candidate_ensembles.py "$out" banks_cross banks_ft banks_aux --out "$out/mixed_banks_cross"
$py scripts/experiments/score_candidate_ensembles.py "$out" tkk_best tkk_ft --out "$out/mixed_tkk"
for p in temporal random; do
    $py scripts/experiments/score_candidate_ensembles.py "$out" banks_best banks_aux banks_ft --out "$out/mixed_banks_$p" --protocol $p
done

# The TF-IDF baseline on each protocol's split.
for config in best_banks default_banks best_tkk default_tkk; do
    extra=(); [[ $config == best_* ]] && extra=(--set "$w2v")
    [[ $config == best_banks ]] && extra+=(--set "$banks")  # the banks file alone, as in the word2vec config
    for fold in 0 1; do
        $py -m sentinet baseline --config "configs/$config.yaml" --output-dir "$out/baselines/$config/folds" \
            --set data.split=temporal --set data.folds=2 --set data.fold=$fold "${extra[@]}"
    done
    $py -m sentinet baseline --config "configs/$config.yaml" --output-dir "$out/baselines/$config/temporal" \
        --set data.split=temporal --set data.dev_from=2014-07-01 "${extra[@]}"
    $py -m sentinet baseline --config "configs/$config.yaml" --output-dir "$out/baselines/$config/random" \
        --set data.split=random --set data.val_fraction=0.1 "${extra[@]}"
done

# Transfer (temporal split only): a telecom source per seed, then banks from it.
PROTOCOLS=temporal folds configs/best_banks.yaml banks_best --set "$w2v" --set "$banks"
PROTOCOLS=temporal folds configs/best_banks.yaml tkk_source --set "$w2v" --set data.train=sentirueval2016/tkk_train_2016.xml
for seed in 1 2 3 4 5; do
    source=$(ls -d "$out"/tkk_source/temporal/tkk_source-s$seed-* | head -1)
    $py -m sentinet train --config configs/best_banks.yaml --set "$w2v" --set "$banks" --set data.split=temporal \
        --set data.dev_from=2014-07-01 --set train.seed=$seed --set train.num_threads=1 \
        --set model.init_from="$source" --set train.lr_scale.encoder=0.5 \
        --set run.name=banks_transfer-s$seed --output-dir "$out/banks_transfer/temporal"
done

# Transfer on the random protocol: a telecom source per seed (random split), then banks from it.
PROTOCOLS=random folds configs/best_banks.yaml tkk_source --set "$w2v" --set data.train=sentirueval2016/tkk_train_2016.xml
for seed in 1 2 3 4 5; do
    source=$(ls -d "$out"/tkk_source/random/tkk_source-s$seed-* | head -1)
    $py -m sentinet train --config configs/best_banks.yaml --set "$w2v" --set "$banks" --set data.split=random \
        --set data.dev_from=null --set data.val_fraction=0.1 --set train.seed=$seed --set train.num_threads=1 \
        --set model.init_from="$source" --set train.lr_scale.encoder=0.5 \
        --set run.name=banks_transfer-s$seed --output-dir "$out/banks_transfer/random"
done

# The baseline on the cross split (today's best_banks.yaml: banks + telecom files).
for fold in 0 1; do
    $py -m sentinet baseline --config configs/best_banks.yaml --output-dir "$out/baselines/best_banks_cross/folds" \
        --set data.split=temporal --set data.folds=2 --set data.fold=$fold
done
$py -m sentinet baseline --config configs/best_banks.yaml --output-dir "$out/baselines/best_banks_cross/temporal" \
    --set data.split=temporal --set data.dev_from=2014-07-01
$py -m sentinet baseline --config configs/best_banks.yaml --output-dir "$out/baselines/best_banks_cross/random" \
    --set data.split=random --set data.val_fraction=0.1

# One small study per sampler at an equal budget, and their curves side by side.
for sampler in tpe random grid; do
    $py -m sentinet tune --config configs/best_banks.yaml --set "$w2v" --space configs/search/samplers.yaml \
        --sampler $sampler --study banks-$sampler --trials 4 --set data.split=temporal --set "$banks" \
        --set data.dev_from=2014-07-01 --set train.num_threads=1 --jobs 2 --output-dir "$out/samplers"
done
$py scripts/experiments/compare_samplers.py -o "$out/samplers.png" "$out"/samplers/banks-{tpe,random,grid}
$py scripts/experiments/score_candidates.py --from-runs "$out"
