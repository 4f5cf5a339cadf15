"""The model's vocabulary: which words get a trainable row and which a pretrained one."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentinet.errors import SentinetError
from sentinet.fileio import atomic_write_text

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


@dataclass
class Vocab:
    """Ids ``[0, n_learned)`` are <pad>, <unk> and trainable OOV words; the rest have
    pretrained vectors (row ``id - n_learned`` of the pretrained table).

    ``vectors`` records where the pretrained rows came from, so predict time can fetch
    vectors for words the training data never showed.
    """

    words: list[str]
    n_learned: int
    vectors: dict = field(default_factory=dict)  # {"path", "format", "dim"}

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token ids; unknown words → <unk>; an empty tweet becomes a single <unk>."""
        ids = [self.index.get(t, UNK_ID) for t in tokens]
        return ids or [UNK_ID]

    def extend(self, words: Iterable[str]) -> None:
        """Append pretrained words (their rows must be appended to the model too)."""
        for w in words:
            if w not in self.index:
                self.index[w] = len(self.words)
                self.words.append(w)

    def save(self, path: Path) -> None:
        data = {"words": self.words, "n_learned": self.n_learned, "vectors": self.vectors}
        atomic_write_text(path, json.dumps(data, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> Vocab:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SentinetError(f"{path}: not a readable sentinet vocabulary ({exc})") from None
        problem = vocab_problem(data)
        if problem:
            raise SentinetError(f"{path}: not a sentinet vocabulary: {problem}")
        return cls(data["words"], data["n_learned"], data.get("vectors", {}))


def vocab_problem(data: object) -> str | None:
    """What is wrong with a vocab.json's content, if anything: a run directory may come from
    anywhere, so every field's type and shape is checked before a model is built from it."""
    if not isinstance(data, dict):
        return "expected a JSON object"
    words, n_learned, vectors = data.get("words"), data.get("n_learned"), data.get("vectors", {})
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return "'words' must be a list of strings"
    if words[:2] != [PAD, UNK]:
        return f"'words' must start with {PAD!r}, {UNK!r}"
    if len(set(words)) != len(words):
        return "'words' lists a word twice"
    if isinstance(n_learned, bool) or not isinstance(n_learned, int) or not 2 <= n_learned <= len(words):
        return (f"'n_learned' must be a whole number from 2 to {len(words)} (the word count), "
                f"got {n_learned!r}")
    if not isinstance(vectors, dict):
        return "'vectors' must be an object"
    for key, ok in (("path", lambda v: v is None or isinstance(v, str)),
                    ("format", lambda v: isinstance(v, str)),
                    ("concat", lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v)),
                    ("dim", lambda v: v is None or (type(v) is int and v > 0))):
        if key in vectors and not ok(vectors[key]):
            return f"'vectors.{key}' has the wrong type: {vectors[key]!r}"
    return None


@dataclass
class VocabPlan:
    """How a vocabulary was chosen, for the coverage report."""

    learned: list[str]
    pretrained: list[str]
    counts: Counter


def plan_vocab(
    train_tokens: Iterable[Sequence[str]],
    extra_tokens: Iterable[Sequence[str]],
    has_vector,
    oov: str,
    oov_min_count: int,
) -> VocabPlan:
    """Split words into pretrained rows and learned OOV rows.

    Every training word with a pretrained vector gets its row, whatever its count. Words of
    ``extra_tokens`` (the dev texts) get pretrained rows too — exactly what predict time does
    for unseen words — but never learned rows, since no gradient could train them.
    OOV training words get their own trainable row only under ``oov: learn`` and only when
    seen ``oov_min_count`` times; the rest map to <unk>.
    """
    counts = Counter(t for tokens in train_tokens for t in tokens)
    by_count = counts.most_common()
    pretrained = [w for w, _ in by_count if has_vector(w)]
    seen = set(pretrained)
    learned = []
    if oov == "learn":
        learned = [w for w, c in by_count if c >= oov_min_count and w not in seen]
    for tokens in extra_tokens:
        for t in tokens:
            if t not in seen and t not in counts and has_vector(t):
                seen.add(t)
                pretrained.append(t)
    return VocabPlan(learned=learned, pretrained=pretrained, counts=counts)


def vocab_from_plan(plan: VocabPlan, vectors: dict) -> Vocab:
    specials = {PAD, UNK}
    learned = [w for w in plan.learned if w not in specials]
    pretrained = [w for w in plan.pretrained if w not in specials]
    words = [PAD, UNK, *learned, *pretrained]
    return Vocab(words=words, n_learned=2 + len(learned), vectors=vectors)
