"""The hierarchical softmax: Huffman tree, probabilities against a brute-force tree walk."""

from __future__ import annotations

import math

import pytest
import torch

from sentinet.models.hsoftmax import HierarchicalSoftmax, adopt_trees, huffman_paths


def test_huffman_codes_are_a_prefix_code_with_short_codes_for_frequent_outputs():
    counts = [50, 20, 10, 5, 5, 3, 1]
    paths, codes = huffman_paths(counts)
    words = ["".join(map(str, c)) for c in codes]
    assert len(set(words)) == len(words)
    assert not any(a != b and b.startswith(a) for a in words for b in words)  # prefix-free
    assert all(len(words[a]) <= len(words[b]) for a in range(7) for b in range(7)
               if counts[a] > counts[b])  # a rarer output never has the shorter code
    assert all(p[0] == len(counts) - 2 for p in paths)  # every path starts at the root
    # Huffman's optimum for these counts, by hand: merges 1+3, 4+5, 5+9, 10+14, 20+24, 44+50
    # give depths 50:1 20:2 10:3 5:4 5:5 3:6 1:6 (189 bits)
    assert sum(c * len(w) for c, w in zip(counts, words)) == 50 * 1 + 20 * 2 + 10 * 3 + 5 * 4 + 5 * 5 + 3 * 6 + 1 * 6


def test_huffman_needs_two_outputs():
    with pytest.raises(ValueError):
        huffman_paths([3])


def _walk(hs: HierarchicalSoftmax, h: torch.Tensor, paths, codes, leaf: int) -> float:
    """log p(leaf | h) by walking the tree node by node in plain Python."""
    total = 0.0
    weight, bias = hs.nodes.weight.detach(), hs.nodes.bias.detach()
    for node, turn in zip(paths[leaf], codes[leaf]):
        z = float(h @ weight[node] + bias[node])
        p_right = 1 / (1 + math.exp(-z))
        total += math.log(p_right if turn == 1 else 1 - p_right)
    return total


@pytest.mark.parametrize("counts", [[50, 20, 10, 5, 5, 3, 1], [1, 1], list(range(1, 40))])
def test_probabilities_sum_to_one_and_match_a_tree_walk(counts):
    torch.manual_seed(0)
    hs = HierarchicalSoftmax(5, counts)
    with torch.no_grad():
        hs.nodes.weight.normal_()
        hs.nodes.bias.normal_()
    h = torch.randn(4, 5)
    log_probs = hs.log_probs(h).detach()
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(4), atol=1e-5)
    paths, codes = huffman_paths(counts)
    for i in range(4):
        for leaf in range(len(counts)):
            assert abs(_walk(hs, h[i], paths, codes, leaf) - float(log_probs[i, leaf])) < 1e-4
    targets = torch.arange(4) % len(counts)
    assert torch.allclose(hs.log_prob(h, targets).detach(), log_probs[torch.arange(4), targets], atol=1e-6)


def test_a_saved_tree_comes_back_into_a_placeholder():
    counts = [50, 20, 10, 5, 5, 3, 1]
    hs = HierarchicalSoftmax(3, counts)
    with torch.no_grad():
        hs.nodes.weight.normal_()
    placeholder = torch.nn.Sequential(HierarchicalSoftmax(3, [1] * len(counts)))
    state = {f"0.{k}": v for k, v in hs.state_dict().items()}
    assert placeholder[0].paths.shape != hs.paths.shape  # balanced vs Huffman depth
    adopt_trees(placeholder, state)
    placeholder.load_state_dict(state)
    h = torch.randn(2, 3)
    assert torch.equal(placeholder[0].log_probs(h), hs.log_probs(h))
