"""Train-step and inference time of every encoder at equal hidden size and batch.

    python scripts/bench_encoders.py                 # CPU, and CUDA when present
    python scripts/bench_encoders.py --device cpu --batch 64 --hidden 128 --rounds 5

Each encoder sits in the full classifier (frozen 300-d vectors → encoder → head) and runs on
the same random batches of tweet-like lengths. Rounds interleave the encoders, so machine
noise hits them all alike; the table shows medians and the ratio to nn.GRU (> 1: faster).
With --configs, the shipped configs instead: each configs/banks_<encoder>.yaml trains for
--epochs epochs in a subprocess (its own thread policy), and the table gives training tweets
per second per epoch (an epoch row's seconds: its batches and its dev scoring), beside
fastText's supervised training time on the same file (pip install fasttext-wheel) and, with
--sru-layers, the SRU config at GRU's depth too:

    python scripts/bench_encoders.py --configs --epochs 2

"sru" uses the fused C++ kernel when it is built (python -m sentinet.models.build_kernel),
"sru-torch" the same SRU without it, and "sru-reference" the plain autograd loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import fasttext_baseline  # scripts/, beside this file
from sentinet.config.schema import ModelConfig
from sentinet.config.encoders import ENCODERS
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.models.sru.encoder import sru_recurrence_reference


def build(name: str, hidden: int, layers: int, vocab: int, dim: int) -> SentimentClassifier:
    base = "sru" if name.startswith("sru") else name
    options = ENCODERS[base].options(name=base)
    if base == "cnn":
        options = dataclasses.replace(options, filters=hidden)
    else:
        options = dataclasses.replace(options, hidden_size=hidden, num_layers=layers, bidirectional=True)
    embedder = Embedder(torch.randn(vocab, dim), n_learned=2, freeze=True, learn_oov=True)
    model = SentimentClassifier(embedder, ModelConfig(encoder=options), num_classes=3)
    if name == "sru-reference":
        for layer in model.encoder.layers:
            layer.recurrence = sru_recurrence_reference
    if name == "sru-torch":
        for layer in model.encoder.layers:
            layer.fused = False
    return model


def batches(n: int, batch: int, max_len: int, vocab: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lengths = torch.randint(5, max_len + 1, (batch,), generator=g)
        ids = torch.randint(2, vocab + 2, (batch, int(lengths.max())), generator=g)
        ids[torch.arange(ids.size(1)) >= lengths.unsqueeze(1)] = 0
        out.append((ids.to(device), lengths, torch.randint(0, 3, (batch,), generator=g).to(device)))
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_train(model, optimizer, data, device) -> float:
    model.train()
    sync(device)
    start = time.perf_counter()
    for ids, lengths, labels in data:
        loss = torch.nn.functional.cross_entropy(model(ids, lengths), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return (time.perf_counter() - start) / len(data)


@torch.no_grad()
def time_infer(model, data, device) -> float:
    model.eval()
    sync(device)
    start = time.perf_counter()
    for ids, lengths, _ in data:
        model(ids, lengths)
    sync(device)
    return (time.perf_counter() - start) / len(data)


def bench(device: torch.device, args: argparse.Namespace) -> None:
    names = ["gru", "lstm", "rnn", "cnn", "sru", "sru-torch", "sru-reference"]
    models = {n: build(n, args.hidden, args.layers, args.vocab, 300).to(device) for n in names}
    optims = {n: torch.optim.Adam([p for p in m.parameters() if p.requires_grad]) for n, m in models.items()}
    data = batches(args.steps, args.batch, args.max_len, args.vocab, device)
    train = {n: [] for n in names}
    infer = {n: [] for n in names}
    for n in names:  # warm-up (kernel compilation, allocator)
        time_train(models[n], optims[n], data[:2], device)
    for _ in range(args.rounds):
        for n in names:
            train[n].append(time_train(models[n], optims[n], data, device))
            infer[n].append(time_infer(models[n], data, device))
    med = {n: (statistics.median(train[n]), statistics.median(infer[n])) for n in names}
    gru_train, gru_infer = med["gru"]
    print(f"\n{device.type.upper()} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"batch {args.batch}, lengths 5..{args.max_len}, hidden {args.hidden} x2 directions, "
          f"{args.layers} layer(s), {args.rounds} rounds x {args.steps} steps, median ms per step")
    print("| encoder | train step (ms) | vs GRU | inference (ms) | vs GRU |")
    print("|---|---|---|---|---|")
    for n in names:
        t, i = med[n]
        print(f"| {n} | {t * 1e3:.2f} | {gru_train / t:.2f}x | {i * 1e3:.2f} | {gru_infer / i:.2f}x |")


ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["gru", "lstm", "rnn", "cnn", "sru"]


def train_epochs(config: Path, out: Path, epochs: int, extra: list[str]) -> tuple[float, int]:
    """(median seconds per epoch, training tweets) of one shipped config."""
    cmd = [sys.executable, "-m", "sentinet", "train", "--config", str(config), "--output-dir", str(out),
           "--set", f"train.epochs={epochs}", "--set", f"train.patience={epochs}", "--device", "cpu", *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{config.name}: {done.stderr.strip().splitlines()[-1:]}")
    (metrics,) = out.glob("*/metrics.json")
    m = json.loads(metrics.read_text(encoding="utf-8"))
    return statistics.median(e["seconds"] for e in m["epochs"]), sum(t["tweets"] for t in m["data"]["train"])


def fasttext_seconds(data: Path, epochs: int, threads: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        trained = fasttext_baseline.train(data, Path(tmp), epochs, threads)
    if trained is None:
        return f"not installed ({fasttext_baseline.INSTALL})"
    seconds = trained[1]
    return f"{seconds:.2f} s for {epochs} epochs ({seconds / epochs:.2f} s per epoch), {threads} threads"


def bench_configs(args: argparse.Namespace) -> None:
    rows = [(name, ROOT / f"configs/banks_{name}.yaml", []) for name in SHIPPED]
    if args.sru_layers:
        rows.append((f"sru, {args.sru_layers} layer(s)", ROOT / "configs/banks_sru.yaml",
                     ["--set", f"model.encoder.num_layers={args.sru_layers}"]))
    print(f"shipped configs, {args.epochs} epochs each, CPU, load average {os.getloadavg()[0]:.2f}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, config, extra) in enumerate(rows):
            results[name] = train_epochs(config, Path(tmp) / str(i), args.epochs, extra)
            print(f"  {name}: {results[name][0]:.2f} s per epoch", flush=True)
    gru = results["gru"][0]
    print("\n| encoder (config) | s per epoch | train tweets/s | vs GRU |\n|---|---|---|---|")
    for name, (seconds, tweets) in results.items():
        print(f"| {name} | {seconds:.2f} | {tweets / seconds:,.0f} | {gru / seconds:.2f}x |")
    data = Path(os.environ.get("SENTINET_DATA", ROOT / "data")) / "sentirueval2016/bank_train_2016.xml"
    print(f"\nfastText supervised on the same file: {fasttext_seconds(data, 5, os.cpu_count() or 1)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=40)
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--configs", action="store_true", help="train the shipped banks configs instead")
    parser.add_argument("--epochs", type=int, default=2, help="with --configs")
    parser.add_argument("--sru-layers", type=int, default=1, help="with --configs: also SRU at this depth (0: no)")
    args = parser.parse_args()
    if args.configs:
        bench_configs(args)
        return
    torch.manual_seed(0)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            print("\nCUDA: not available, skipped")
            continue
        bench(torch.device(name), args)


if __name__ == "__main__":
    main()
