"""What people look at after a run: metrics.csv, curves.png, confusion.png, TensorBoard.

matplotlib and TensorBoard are optional extras: without them a run still trains and writes
metrics.csv, and says once which extra would add the pictures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

from sentinet.config import RunConfig
from sentinet.errors import SentinetError
from sentinet.events import Callback
from sentinet.rundir import CONFUSION, CSV, CURVES, TENSORBOARD
from sentinet.fileio import atomic_open, atomic_write_text

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
                   class_names: Sequence[str], log: Callable[[str], None]) -> None:
    """curves.png (train/dev loss, dev F-macro with the best epoch marked, learning rate) and
    confusion.png (the best epoch's dev confusion matrix)."""
    plt = _pyplot()
    if plt is None:
        log("no curves.png / confusion.png: matplotlib is missing (pip install 'sentinet-nlp[plots]')")
        return
    x = [row["epoch"] for row in epochs]
    fig, (ax_loss, ax_f1, ax_lr) = plt.subplots(1, 3, figsize=(13, 3.8))
    ax_loss.plot(x, [r["loss"] for r in epochs], "o-", label="train")
    ax_loss.plot(x, [r.get("dev_loss") for r in epochs], "o-", label="dev")
    ax_loss.set(title="loss (cross-entropy)", xlabel="epoch")
    ax_loss.legend()
    first, second = curve_keys(epochs[-1])
    ax_f1.plot(x, [r.get(first[0]) for r in epochs], "o-", label=first[1])
    ax_f1.plot(x, [r.get(second[0]) for r in epochs], "s--", alpha=0.6, label=second[1])
    ax_f1.axvline(best_epoch, color="gray", linestyle=":", label=f"best epoch {best_epoch}")
    ax_f1.set(title="dev scores", xlabel="epoch")
    ax_f1.legend()
    ax_lr.plot(x, [r["lr"] for r in epochs], "o-")
    ax_lr.set(title="learning rate (end of epoch)", xlabel="epoch")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_f1, ax_lr):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.tight_layout()
    _save(fig, run_dir / CURVES, plt)

    write_confusion(run_dir / CONFUSION, confusion, class_names, f"dev confusion, best epoch {best_epoch}", log)


def write_confusion(path: Path, confusion: list[list[int]] | None, class_names: Sequence[str], title: str,
                    log: Callable[[str], None]) -> bool:
    """A confusion matrix picture (rows gold, columns predicted, counts in the cells);
    False, with a note, when matplotlib is missing or the classes are too many to draw."""
    plt = _pyplot()
    if plt is None:
        log(f"no {path.name}: matplotlib is missing (pip install 'sentinet-nlp[plots]')")
        return False
    if confusion is None:
        log(f"no {path.name}: {len(class_names)} classes are too many to draw (the report names the "
            "most frequent confusions)")
        return False
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(confusion, cmap="Blues")
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)),
           xticklabels=class_names, yticklabels=class_names, xlabel="predicted", ylabel="gold", title=title)
    top = max(max(row) for row in confusion) or 1
    for i, row in enumerate(confusion):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
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
        log(f"no {path.name}: matplotlib is missing (pip install 'sentinet-nlp[plots]')")
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


def require_tensorboard() -> None:
    """Fail before a run directory exists, not after, when the extra is missing."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise SentinetError("run.tensorboard: TensorBoard is not installed "
                            "(pip install 'sentinet-nlp[tensorboard]')")


class CsvLog(Callback):
    """metrics.csv, written whole after every committed epoch (a resumed run's earlier epochs
    are in ``epochs`` from the start)."""

    def __init__(self, epochs: Sequence[dict]):
        self.epochs = epochs

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        write_csv(run_dir, self.epochs)


class TensorBoard(Callback):
    """Per-epoch scalars to ``run_dir/tensorboard`` when ``run.tensorboard`` is on."""

    def __init__(self) -> None:
        self.writer = None

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / TENSORBOARD))
        for key in scalar_keys([row]):
            if row.get(key) is not None:
                self.writer.add_scalar(key, row[key], row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def epoch_loggers(run: RunConfig, epochs: Sequence[dict]) -> list[Callback]:
    """The per-epoch logs a run keeps: metrics.csv always, TensorBoard when asked for."""
    return [CsvLog(epochs), *([TensorBoard()] if run.tensorboard else [])]


def curve_keys(row: dict) -> tuple[tuple[str, str], tuple[str, str]]:
    """(key, legend) of the selecting score and the one beside it, for an epoch row of any
    run (older rows: f_macro and f_micro, named by the labels' metric)."""
    from sentinet.metrics import KEYS, NAMES, SECOND

    metric = row.get("metric")
    if "score" in row and metric in KEYS:
        first, second = KEYS[metric], SECOND[metric]
        official = " (official)" if metric == "sentirueval" else ""
        return (first, NAMES[first] + official + ", selects"), (second, NAMES[second])
    if metric == "macro_f1":
        return ("f_macro", "macro-F1"), ("f_micro", "micro-F1 (accuracy)")
    return ("f_macro", "F-macro (official)"), ("f_micro", "F-micro")
