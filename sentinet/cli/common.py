"""What the CLI's command modules share: loading a model for a command, the files a run's
path stands for, and the column separator of the lines scripts read. Presentation only; the
work itself is a library call."""

from __future__ import annotations

import gc
from pathlib import Path

TAB = "\t"  # the columns of the lines scripts read


# What eval, predict and serve accept (sentinet.inference.opener opens each kind).
MODEL_HELP = ("A run or ensemble directory, a run's model.pt, an export archive (.tar.gz) or a "
              "sentinet baseline run.")


def load_model(run: Path, device: str, int8: bool = False, threads: int | None = None,
               engine: str | None = None):
    """``sentinet.load`` for the CLI (eval, predict, explain, serve), with two measures for speed:

    - torch's idle CPU threads spin briefly, then sleep: main() set that for every command
      (sentinet/runtime/threads.py says why);
    - no garbage collection while torch and the model load (importing torch makes objects by
      the hundred thousand, and each collection walks them all); then what was loaded is
      frozen out of every later collection, the one at exit included: ~0.3 s CPU less.
    A ``sentinet baseline`` run loads without torch, and so does an export archive through the
    light engine (``engine``: auto, torch, lite; None: $SENTINET_ENGINE or auto).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from sentinet.api import load

        return load(run, device, int8, threads, engine)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def run_files(run: Path) -> list[Path]:
    """What predict and export read from a run: the path given and its run directory's files
    (a run's model.pt stands for its directory, as it does for loading), so no output may
    overwrite them."""
    from sentinet.runs.rundir import READ_BY_INFERENCE

    folder = run if run.is_dir() else run.parent if run.suffix == ".pt" else None
    names = READ_BY_INFERENCE if folder else ()
    return [run, *(folder / name for name in names)]


def config_as_option(command: str, stray: list[str] | None) -> None:
    """``sentinet train my.yaml``: the config goes after --config; say so instead of click's
    'unexpected extra argument'."""
    if stray:
        from sentinet.errors import SentinetError

        raise SentinetError(f"{command} takes the config as an option: sentinet {command} --config {stray[0]}"
                            + (f" (and {' '.join(stray[1:])}?)" if len(stray) > 1 else ""))
