#!/usr/bin/env bash
# Train the chosen model for one domain (chosen by the temporal-folds dev mean: docs/RESULTS.md,
# "Which config is shipped") as a 5-seed ensemble:
#   SENTINET_DATA=../shared/data SENTINET_VECTORS=../shared/embeddings bash scripts/experiments/train_best.sh banks|tkk
# Step 1 (once, shared by both domains): word2vec and fastText on the training texts of both
# domains — no labels, no test texts — written to data/vectors/sentirueval_{w2v,ft}.bin, which
# the best configs concatenate to navec (the fastText; the word2vec was the earlier choice).
# Step 2: sentinet train --seeds 5, in the form the config chose (telecom: a hybrid, each
# seed's network blended half and half with the TF-IDF baseline of its split, train.hybrid;
# banks: the network alone; docs/RESULTS.md section 11); the ensemble directory it prints is what `sentinet eval`
# and `sentinet predict` take.
set -euo pipefail
domain=${1:?usage: train_best.sh banks|tkk}
cd "$(dirname "$0")/../.."  # the checkout
data=${SENTINET_DATA:-data}
default=sentinet
[[ -x .venv/bin/sentinet ]] && default=.venv/bin/sentinet  # what `make install` creates
sentinet=${SENTINET:-$default}
w2v=data/vectors/sentirueval_w2v.bin
corpus=("$data/sentirueval2016/bank_train_2016.xml" "$data/sentirueval2016/tkk_train_2016.xml")
if [[ ! -f $w2v ]]; then
    $sentinet embeddings train "${corpus[@]}" --out "$w2v" \
        --set vectors.word2vec.dim=100 --set vectors.word2vec.epochs=20 --seed 13
fi
ft=data/vectors/sentirueval_ft.bin  # fastText on the same texts: what the best configs use
if [[ ! -f $ft ]]; then
    $sentinet embeddings train "${corpus[@]}" --out "$ft" --model fasttext \
        --set vectors.word2vec.dim=100 --set vectors.word2vec.epochs=20 --seed 13 --workers 1
fi
$sentinet train --config "configs/best_${domain}.yaml" --seeds 5 "${@:2}"
