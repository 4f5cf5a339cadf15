"""What people look at after a run: metrics.csv, curves.png, confusion.png (TensorBoard's
live logs are a training subscriber: sentinet.training.callbacks).

matplotlib and TensorBoard are optional extras: without them a run still trains and writes
metrics.csv, and says once which extra would add the pictures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

from sentinet.runs.rundir import CONFUSION, CSV, CURVES
from sentinet.fileio import atomic_open, atomic_write_text
from sentinet.errors import install_hint

SCALARS = ("loss", "dev_loss", "score", "f_macro", "f_micro", "macro_f1", "weighted_f1", "accuracy")  # then f1_<class>, lr


def scalar_keys(epochs: Sequence[dict]) -> list[str]:
    """The per-epoch numbers worth a column or a curve: losses, scores, every class's F1, lr."""
    first = epochs[0] if epochs else {}
    per_class = [k for k in first if k.startswith("f1_")]
    return [*(k for k in SCALARS if k in first or not first), *per_class, "lr"]


def write_csv(run_dir: Path, epochs: Sequence[dict]) -> None:
    buffer = io.StringIO()
    columns = ["epoch", *scalar_keys(epochs), "seconds"]
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(epochs)
    atomic_write_text(run_dir / CSV, buffer.getvalue())


def _pyplot():
    """matplotlib's pyplot on the file-only backend, or None when the extra is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def write_pictures(run_dir: Path, epochs: Sequence[dict], best_epoch: int, confusion: list[list[int]] | None,
                   class_names: Sequence[str], log: Callable[[str], None], counted: str = "texts") -> None:
    """curves.png (train/dev loss, dev scores with the best epoch marked, and the learning rate
    when it changed) and confusion.png (the best epoch's dev confusion matrix of ``counted``)."""
    plt = _pyplot()
    if plt is None:
        log(f"no curves.png / confusion.png: matplotlib is missing ({install_hint('plots')})")
        return
    x = [row["epoch"] for row in epochs]
    rates = [r["lr"] for r in epochs]
    varied = len({round(r, 12) for r in rates}) > 1  # a flat lr line is not worth a panel
    fig, axes = plt.subplots(1, 3 if varied else 2, figsize=(13, 4.2) if varied else (11, 4.2),
                             gridspec_kw={"width_ratios": [3, 3, 2] if varied else [1, 1]})
    ax_loss, ax_f1 = axes[0], axes[1]
    ax_loss.plot(x, [r["loss"] for r in epochs], "o-", label="train")
    ax_loss.plot(x, [r.get("dev_loss") for r in epochs], "o-", label="dev")
    constant = "" if varied or not rates else f"; learning rate {rates[0]:.3g} throughout"
    multilabel = "samples_f1" in epochs[-1]
    ax_loss.set(title=f"loss ({'binary ' * multilabel}cross-entropy){constant}", xlabel="epoch")
    first, second = curve_keys(epochs[-1])
    ax_f1.plot(x, [r.get(first[0]) for r in epochs], "o-", label=first[1])
    ax_f1.plot(x, [r.get(second[0]) for r in epochs], "s--", alpha=0.6, label=second[1])
    ax_f1.axvline(best_epoch, color="gray", linestyle=":", label=f"best epoch {best_epoch}")
    ax_f1.set(title="dev scores", xlabel="epoch")
    if varied:
        axes[2].plot(x, rates, "o-", color="tab:green")
        axes[2].set(title="learning rate (end of epoch)", xlabel="epoch")
    for ax in axes:
        _epoch_axis(ax, x)
    for ax in (ax_loss, ax_f1):  # below the plot: a legend inside it covers points
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, frameon=False, fontsize="small")
    fig.tight_layout()
    _save(fig, run_dir / CURVES, plt)
    if multilabel:
        log(f"no {CONFUSION}: a multi-label run decides each class on its own (the report gives each "
            "class's precision and recall)")
        return
    write_confusion(run_dir / CONFUSION, confusion, class_names, f"dev confusion, best epoch {best_epoch}", log,
                    counted)


def _epoch_axis(ax, x: Sequence[int]) -> None:
    """Whole epochs only, each one marked while they are few; one epoch gets room around it."""
    from matplotlib.ticker import MaxNLocator

    ax.grid(alpha=0.3)
    if len(x) <= 15:
        ax.set_xticks(list(x))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if x:
        ax.set_xlim(min(x) - 0.5, max(x) + 0.5)


def write_confusion(path: Path, confusion: list[list[int]] | None, class_names: Sequence[str], title: str,
                    log: Callable[[str], None], counted: str = "texts") -> bool:
    """A confusion matrix picture: rows gold, columns predicted; each cell the count of
    ``counted`` and its share of the gold row (the row's recall on the diagonal), coloured by
    that share, with a colour bar. False, with a note, when matplotlib is missing or the
    classes are too many to draw."""
    plt = _pyplot()
    if plt is None:
        log(f"no {path.name}: matplotlib is missing ({install_hint('plots')})")
        return False
    if confusion is None:
        log(f"no {path.name}: {len(class_names)} classes are too many to draw (the report names the "
            "most frequent confusions)")
        return False
    shares = [[n / (sum(row) or 1) for n in row] for row in confusion]
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the gold row")
    total = sum(map(sum, confusion))
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)),
           xticklabels=class_names, yticklabels=class_names, xlabel="predicted", ylabel="gold",
           title=f"{title}\n{total} {counted}: count and % of the gold row")
    for i, row in enumerate(confusion):
        for j, n in enumerate(row):
            ax.text(j, i, f"{n}\n{100 * shares[i][j]:.0f}%", ha="center", va="center", fontsize="small",
                    color="white" if shares[i][j] > 0.5 else "black")
    fig.tight_layout()
    _save(fig, path, plt)
    return True


def write_best_so_far(path: Path, series: dict[str, Sequence[tuple[int, float | None]]],
                      log: Callable[[str], None], score: str = "dev F-macro") -> bool:
    """best_so_far.png: for each named series of (trial number, score; None for a pruned or
    failed trial), the best score so far as a step line over trial numbers, each completed
    trial's own score as a faint dot. Several series (studies, samplers) share the axes.
    False when nothing was drawn (matplotlib missing, or no completed trial)."""
    plt = _pyplot()
    if plt is None:
        log(f"no {path.name}: matplotlib is missing ({install_hint('plots')})")
        return False
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for name, points in series.items():
        x, best, done, own = [], [], [], []
        for number, value in points:
            if value is not None:
                done.append(number)
                own.append(value)
            if own:  # from the first completed trial on
                x.append(number)
                best.append(max(own))
        if not x:
            continue
        (line,) = ax.step(x, best, where="post", linewidth=2,
                          label=f"{name}: {best[-1]:.4f} after {len(points)} trials")
        ax.plot(done, own, "o", color=line.get_color(), alpha=0.45, markersize=5)
        drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set(title=f"best {score} so far", xlabel="trial", ylabel=score)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers are whole
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    _save(fig, path, plt)
    return True


def _save(fig, path: Path, plt) -> None:
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


def curve_keys(row: dict) -> tuple[tuple[str, str], tuple[str, str]]:
    """(key, legend) of the selecting score and the one beside it, for an epoch row of any
    run (older rows: f_macro and f_micro, named by the labels' metric)."""
    from sentinet.evaluation.metrics import KEYS, NAMES, SECOND

    metric = row.get("metric")
    if "score" in row and metric in KEYS:
        first, second = KEYS[metric], SECOND[metric]
        if "samples_f1" in row and metric in ("macro_f1", "weighted_f1", "accuracy"):
            second = "micro_f1"  # multi-label, as metrics.headline
        official = " (official)" if metric == "sentirueval" else ""
        return (first, NAMES[first] + official + ", selects"), (second, NAMES[second])
    if metric == "macro_f1":
        return ("f_macro", "macro-F1"), ("f_micro", "micro-F1 (accuracy)")
    return ("f_macro", "F-macro (official)"), ("f_micro", "F-micro")
