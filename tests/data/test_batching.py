
from sentinet.data.batching import BucketBatchSampler, EncodedDataset, collate, make_loader
from sentinet.labels import LabelSet, training_pairs, tweet_label
from sentinet.data.splits import split_dev
from sentinet.data.readers import Record
from sentinet.data.vocab import PAD_ID, UNK_ID, plan_vocab, vocab_from_plan


def test_collate_pads_and_keeps_lengths():
    batch = collate(list(EncodedDataset([[3, 4, 5], [6]], [2, 0])))
    assert batch.ids.tolist() == [[3, 4, 5], [6, PAD_ID, PAD_ID]]
    assert batch.lengths.tolist() == [3, 1] and batch.labels.tolist() == [2, 0]


def test_bucket_sampler_covers_everything_and_reshuffles():
    lengths = [(i * 7) % 23 + 1 for i in range(200)]
    sampler = BucketBatchSampler(lengths, batch_size=8, pool=5, seed=0)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(i for b in epoch for i in b) == list(range(200))
        assert len(epoch) == len(sampler) == 25
    assert first != second  # a new order each epoch
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first]
    assert sum(spread) / len(spread) < 6  # similar lengths share a batch (random would be ~18)
    again = list(BucketBatchSampler(lengths, batch_size=8, pool=5, seed=0))
    assert again == first  # same seed, same batches


def test_inference_loader_is_sorted_and_complete():
    ds = EncodedDataset([[1] * n for n in (5, 1, 3, 2)])
    loader = make_loader(ds, batch_size=2, shuffle=False)
    assert [b.index.tolist() for b in loader] == [[1, 3], [2, 0]]
    assert next(iter(loader)).labels is None


def test_tweet_label_policies():
    agree, conflict = {"a": 1, "b": 1}, {"a": 1, "b": -1, "c": -1}
    assert tweet_label(agree, "drop") == 1
    assert tweet_label(conflict, "drop") is None
    assert tweet_label(conflict, "majority") == -1
    assert tweet_label({"a": 1, "b": -1}, "majority") is None  # a tie
    assert tweet_label(conflict, "neutral") == 0
    assert tweet_label({}, "neutral") is None
    recs = [Record("1", "x", agree), Record("2", "y", conflict)]
    assert [(r.id, c) for r, c in training_pairs(recs, "drop", LabelSet((-1, 0, 1)))] == [("1", 2)]
    words = [Record("1", "x", {"a": "pos", "b": "neg"}), Record("2", "y", {"label": "neg"})]
    classes = LabelSet(("neg", "neu", "pos"))
    assert [c for _, c in training_pairs(words, "neutral", classes)] == [1, 0]  # conflict → "neu"


def test_split_dev_is_stratified_and_seeded():
    records = [Record(str(i), "t", {"a": (-1, 0, 0, 0, 1)[i % 5]}) for i in range(500)]
    train, dev = split_dev(records, 0.2, seed=1)
    assert len(dev) == 100 and len(train) == 400
    assert sum(r.labels["a"] == 1 for r in dev) == 20
    assert [r.id for r in split_dev(records, 0.2, seed=1)[1]] == [r.id for r in dev]
    assert {r.id for r in train}.isdisjoint(r.id for r in dev)


def test_vocab_plan_rows():
    train = [["хорошо", "банк", "zzz"], ["zzz", "банк", "qqq"]]
    dev = [["отлично", "www"]]
    vectors = {"хорошо", "банк", "отлично"}
    plan = plan_vocab(train, dev, vectors.__contains__, "learn", oov_min_count=2)
    assert plan.learned == ["zzz"]  # qqq seen once: <unk>; www only in dev: <unk>
    assert plan.pretrained == ["банк", "хорошо", "отлично"]
    vocab = vocab_from_plan(plan, {})
    assert vocab.n_learned == 3
    assert vocab.encode(["zzz", "qqq", "отлично"]) == [2, UNK_ID, 5]
    assert vocab.encode([]) == [UNK_ID]
    assert plan_vocab(train, dev, vectors.__contains__, "unk", 1).learned == []
