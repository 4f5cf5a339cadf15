"""``train.hybrid: wide``: the wide half of a wide & deep classifier (Cheng et al. 2016, with
fastText's features): a linear layer over hashed word unigrams, word bigrams and character
2–5-grams, whose scores are added to the network's logits and trained with it.

The features are made from the token ids and lengths the classifier already receives, so
training, eval, predict and serving see the same features by construction (no second
tokenisation, no change to batching). A word's character n-grams come from its vocabulary
entry, computed once into a ragged table (flat bucket ids + per-word offsets). The table is a
function of the vocabulary alone, so it is rebuilt from vocab.json when a run loads rather
than saved: model.pt grows by the weights only (BUCKETS x classes floats), and the hashing
below must never change (tests/models/test_wide.py pins known buckets).

Ids the table does not cover read as <unk>: words appended at predict time for unseen words
(they get vectors from the vectors file, but no wide weight was ever trained for them), and
<pad> and <unk> themselves. <unk> has one word bucket, bigrams with its neighbours and no
character n-grams.

Hashing is stable across processes and machines: zlib.crc32 for the n-gram strings and
multiply-mod-prime mixing for ids, never Python's ``hash()`` (salted per process).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sentinet.data.vocab import PAD_ID, UNK_ID

BUCKETS = 2 ** 18  # shared by all feature kinds; 2**18 x classes floats (3 MB for 3 classes)
CHAR_SIZES = (2, 5)  # character n-gram lengths, inclusive, over the word marked as <word>
_PRIME = 2 ** 31 - 1  # ids and multipliers stay below it, so every product fits in int64
_WORD, _LEFT, _RIGHT, _OFFSET = 1540483477, 668265263, 374761393, 1013904223


def char_ngrams(word: str) -> list[str]:
    """fastText's subwords (sklearn's ``char_wb``): every 2- to 5-gram of ``<word>``, repeats
    kept, so a word's prefix and suffix are n-grams of their own."""
    marked = f"<{word}>"
    low, high = CHAR_SIZES
    return [marked[i:i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)]


def char_bucket(gram: str, buckets: int = BUCKETS) -> int:
    """crc32 of the UTF-8 bytes: the same bucket in every process, on every machine."""
    return zlib.crc32(gram.encode("utf-8")) % buckets


def char_table(words: Sequence[str], buckets: int = BUCKETS) -> tuple[Tensor, Tensor]:
    """The ragged table of every word's n-gram buckets: word ``i``'s are
    ``flat[offsets[i]:offsets[i + 1]]``; <pad> and <unk> have none. int32 halves its memory
    (buckets < 2**31): about 27 entries a word."""
    known: dict[str, int] = {}  # most n-grams recur across words: hash each once
    flat: list[int] = []
    offsets = [0]
    for i, word in enumerate(words):
        if i not in (PAD_ID, UNK_ID):
            for gram in char_ngrams(word):
                if gram not in known:
                    known[gram] = char_bucket(gram, buckets)
                flat.append(known[gram])
        offsets.append(len(flat))
    return torch.tensor(flat, dtype=torch.int32), torch.tensor(offsets, dtype=torch.int64)


def covered(ids: Tensor, vocab_size: int) -> Tensor:
    """Ids outside the table (appended at predict time) and <pad> → <unk>."""
    return ids.masked_fill((ids >= vocab_size) | (ids == PAD_ID), UNK_ID)


def _mix(x: Tensor, multiplier: int) -> Tensor:
    """One multiply-mod-prime round (x < 2**31, so nothing overflows int64)."""
    return (x * multiplier + _OFFSET) % _PRIME


def word_buckets(ids: Tensor, buckets: int = BUCKETS) -> Tensor:
    """A word unigram's bucket: a function of its id alone."""
    return _mix(ids, _WORD) % buckets


def pair_buckets(left: Tensor, right: Tensor, buckets: int = BUCKETS) -> Tensor:
    """A word bigram's bucket: order matters ((a, b) and (b, a) hash apart)."""
    return _mix((_mix(left, _LEFT) + right) % _PRIME, _RIGHT) % buckets


class WideNgrams(nn.Module):
    """ids [B, T] + lengths [B] → one score per class [B, C]: the sum of the weights of each
    text's n-gram buckets (zero-initialised, so a fresh wide & deep model starts as the deep one)."""

    def __init__(self, words: Sequence[str], num_classes: int, buckets: int = BUCKETS):
        super().__init__()
        if len(words) >= _PRIME:
            raise ValueError(f"{len(words)} words: the id hashing needs fewer than {_PRIME}")
        self.buckets = buckets
        flat, offsets = char_table(words, buckets)
        # not in the state dict: rebuilt from the vocabulary, the same in every process
        self.register_buffer("char_buckets", flat, persistent=False)
        self.register_buffer("char_offsets", offsets, persistent=False)
        # from_pretrained draws no random numbers: the network's initial weights stay those
        # the same seed gives without the wide part
        self.bag = nn.EmbeddingBag.from_pretrained(torch.zeros(buckets, num_classes), freeze=False, mode="sum")

    @property
    def vocab_size(self) -> int:
        """How many ids have their own features (the vocabulary the model was built over)."""
        return self.char_offsets.numel() - 1

    def features(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Every text's bucket ids, text after text, and where each text's start (EmbeddingBag's
        offsets). Within a text, token by token: its word, its bigram with the previous word
        (none for the first), its word's character n-grams. Padding (past ``lengths``) adds
        nothing, so a text's features are the same in any batch, padded or alone."""
        batch, time = ids.shape
        real = torch.arange(time, device=ids.device) < lengths.unsqueeze(1)  # [B, T]
        ids = covered(ids, self.vocab_size)
        tokens = ids[real]  # [N], row-major: each text's tokens together, in order
        has_pair = real.clone()
        has_pair[:, 0] = False
        has_pair = has_pair[real]
        starts = self.char_offsets.index_select(0, tokens)
        n_chars = self.char_offsets.index_select(0, tokens + 1) - starts
        counts = 1 + has_pair.long() + n_chars  # features per token
        first = counts.cumsum(0) - counts  # where each token's features begin
        out = torch.empty(int(counts.sum()), dtype=torch.long, device=ids.device)
        out.index_copy_(0, first, word_buckets(tokens, self.buckets))
        pairs = pair_buckets(ids[:, :-1], ids[:, 1:], self.buckets)  # [B, T-1]: words t-1 and t
        out.index_copy_(0, first[has_pair] + 1, pairs[real[:, 1:]])  # the same row-major order
        self._copy_chars(out, starts, n_chars, first + 1 + has_pair.long())
        rows = torch.arange(batch, device=ids.device).unsqueeze(1).expand(batch, time)[real]
        per_text = torch.zeros(batch, dtype=torch.long, device=ids.device).index_add_(0, rows, counts)
        return out, per_text.cumsum(0) - per_text

    def _copy_chars(self, out: Tensor, starts: Tensor, n_chars: Tensor, at: Tensor) -> None:
        """Each token's character n-gram buckets (``n_chars`` from ``starts`` in the table) into
        ``out`` from ``at`` on: one gather and one scatter for the whole batch."""
        before = n_chars.cumsum(0) - n_chars  # n-grams of the tokens before this one
        owner = torch.repeat_interleave(n_chars)  # [K]: the token of every n-gram of the batch
        k = torch.arange(owner.numel(), device=out.device)
        source = k + (starts - before).index_select(0, owner)
        out.index_copy_(0, k + (at - before).index_select(0, owner), self.char_buckets.index_select(0, source).long())

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.bag(*self.features(ids, lengths))

    @torch.no_grad()
    def folded(self) -> FoldedWide:
        """The same scores for fixed weights, in ops an ONNX graph has: a word's unigram and
        character n-gram weights summed once into one row per word, bigrams hashed in the graph."""
        weight = self.bag.weight.detach()
        ids = torch.arange(self.vocab_size, device=weight.device)
        chars = self.bag(self.char_buckets.long(), self.char_offsets[:-1])  # [V, C]; empty bags are 0
        return FoldedWide(weight[word_buckets(ids, self.buckets)] + chars, weight.clone())


class FoldedWide(nn.Module):
    """WideNgrams for inference (``WideNgrams.folded``), for the ONNX export: the exporter has
    no repeat_interleave over data-dependent counts, and this form needs none. Its scores
    match the trained module's up to float rounding (the sums run in another order)."""

    def __init__(self, per_word: Tensor, weight: Tensor):
        super().__init__()
        self.register_buffer("per_word", per_word)  # [V, C]: unigram + character n-grams
        self.register_buffer("weight", weight)  # [buckets, C]: for the bigrams

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        real = torch.arange(ids.size(1), device=ids.device) < lengths.unsqueeze(1)  # [B, T]
        ids = covered(ids, self.per_word.size(0))
        words = torch.where(real.unsqueeze(-1), self.per_word[ids], 0.0).sum(1)
        pairs = self.weight[pair_buckets(ids[:, :-1], ids[:, 1:], self.weight.size(0))]
        return words + torch.where(real[:, 1:].unsqueeze(-1), pairs, 0.0).sum(1)
