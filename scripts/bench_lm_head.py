"""Speed of the auxiliary LM's output layer: full softmax vs hierarchical softmax.

One training step of the LM head alone (forward + backward of the loss) on N token states,
for LM vocabularies of 10k–60k words with Zipf-distributed targets (as words in text are),
both heads measured side by side in one run, interleaved, best of R repeats:

    python scripts/bench_lm_head.py [--states 2048] [--hidden 128] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sentinet.training.objective import LanguageModelHead


def step_seconds(head: LanguageModelHead, states: torch.Tensor, targets: torch.Tensor) -> float:
    start = time.perf_counter()
    loss = -head.log_prob(states, targets).mean()
    loss.backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=2048, help="token states per step (batch 64 x ~32 tokens)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, nargs="+", default=[10_000, 20_000, 60_000])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; {args.states} states "
          f"x {args.hidden} dims per step, best of {args.repeats}")
    print("| LM words | full softmax ms/step | hierarchical ms/step | speed-up |")
    print("|---|---|---|---|")
    for v in args.vocab:
        counts = (1e6 / np.arange(1, v + 1)).tolist()  # Zipf
        heads = {kind: LanguageModelHead(args.hidden, counts, kind) for kind in ("full", "hierarchical")}
        probs = torch.tensor(counts) / sum(counts)
        targets = torch.multinomial(probs, args.states, replacement=True)
        states = torch.randn(args.states, args.hidden, requires_grad=True)
        best = {kind: float("inf") for kind in heads}
        for _ in range(args.repeats):
            for kind, head in heads.items():  # interleaved: a noisy moment hits both
                best[kind] = min(best[kind], step_seconds(head, states, targets))
        full, tree = best["full"] * 1e3, best["hierarchical"] * 1e3
        print(f"| {v:,} | {full:.1f} | {tree:.1f} | {full / tree:.1f}x |")


if __name__ == "__main__":
    main()
