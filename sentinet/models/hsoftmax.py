"""Hierarchical softmax (Morin & Bengio 2005; fastText's Huffman-coded variant).

The V outputs are the leaves of a binary tree with V - 1 inner nodes; each inner node holds
one logistic decision (go left / go right). p(word | h) is the product of the decisions on
the path from the root to the word's leaf, so training a word costs its path length —
about log2(V), and less for frequent words, whose Huffman codes are short — instead of V
logits. The probabilities of all leaves still sum to 1, which the full distribution
(``log_probs``) makes usable as a classifier head for thousands of classes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def huffman_paths(counts: Sequence[float]) -> tuple[list[list[int]], list[list[int]]]:
    """For each leaf: the inner nodes from the root to it, and the turn taken at each (1 =
    right). Inner nodes are numbered 0..V-2 in creation order (the root is V-2). Ties break
    by creation order, so the tree is a function of the counts alone."""
    n = len(counts)
    if n < 2:
        raise ValueError("a hierarchical softmax needs at least 2 outputs")
    heap = [(float(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent, turn = [0] * (2 * n - 1), [0] * (2 * n - 1)
    for inner in range(n - 1):
        (c1, a), (c2, b) = heapq.heappop(heap), heapq.heappop(heap)
        node = n + inner
        parent[a], turn[a], parent[b], turn[b] = node, 0, node, 1
        heapq.heappush(heap, (c1 + c2, node))
    root = 2 * n - 2
    paths, codes = [], []
    for leaf in range(n):
        path, code, node = [], [], leaf
        while node != root:
            path.append(parent[node] - n)
            code.append(turn[node])
            node = parent[node]
        paths.append(path[::-1])
        codes.append(code[::-1])
    return paths, codes


class HierarchicalSoftmax(nn.Module):
    """in_dim → log p(output) over V outputs through a Huffman tree built from ``counts``.

    The tree is kept as buffers (each leaf's path, turns and a mask over the padded depth),
    so a saved state_dict rebuilds the same tree without the counts."""

    def __init__(self, in_dim: int, counts: Sequence[float]):
        super().__init__()
        paths, codes = huffman_paths(counts)
        depth = max(len(p) for p in paths)
        pad = lambda rows: torch.tensor([r + [0] * (depth - len(r)) for r in rows])  # noqa: E731
        self.register_buffer("paths", pad(paths))
        self.register_buffer("codes", pad(codes).float())
        self.register_buffer("mask", pad([[1] * len(p) for p in paths]).float())
        self.nodes = nn.Linear(in_dim, len(counts) - 1)
        nn.init.zeros_(self.nodes.weight)  # every decision starts at even odds, as in fastText
        nn.init.zeros_(self.nodes.bias)

    @property
    def num_outputs(self) -> int:
        return self.paths.size(0)

    def log_prob(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """log p(target | hidden) for each row: the training cost, one path per row."""
        paths, codes, mask = self.paths[targets], self.codes[targets], self.mask[targets]
        w, b = self.nodes.weight[paths], self.nodes.bias[paths]  # [N, depth, in], [N, depth]
        return _path_log_prob(torch.einsum("nd,nkd->nk", hidden, w) + b, codes, mask)

    def log_probs(self, hidden: Tensor) -> Tensor:
        """[..., in_dim] → [..., V] log-probabilities of every output (they sum to 1)."""
        gathered = self.nodes(hidden)[..., self.paths]  # [..., V, depth]: each leaf's path
        return _path_log_prob(gathered, self.codes, self.mask)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.log_probs(hidden)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """A saved tree can have another depth than the placeholder built here: take its buffers."""
        self.adopt_tree(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def adopt_tree(self, state_dict: dict, prefix: str) -> None:
        """Reshape the tree buffers to a saved state's (the same outputs, another tree)."""
        for name in ("paths", "codes", "mask"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.dim() == 2 and saved.size(0) == self.num_outputs:
                setattr(self, name, torch.empty_like(saved))


def _path_log_prob(logits: Tensor, codes: Tensor, mask: Tensor) -> Tensor:
    """Sum of the log-probabilities of the turns along a (padded) path: a turn right (code 1)
    has probability sigmoid(logit), a turn left sigmoid(-logit)."""
    return (F.logsigmoid(logits * (2 * codes - 1)) * mask).sum(-1)


def adopt_trees(model: nn.Module, state_dict: dict) -> None:
    """Before comparing a model with a saved state: every hierarchical softmax takes the
    saved tree's shape (a model built without the class counts has a placeholder tree)."""
    for name, module in model.named_modules():
        if isinstance(module, HierarchicalSoftmax):
            module.adopt_tree(state_dict, f"{name}." if name else "")
