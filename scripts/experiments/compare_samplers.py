"""Best dev score so far against trial number for several `sentinet tune` studies, in one
picture (for docs/RESULTS.md): e.g. the same space searched with --sampler tpe, random, grid.

    python scripts/experiments/compare_samplers.py -o samplers.png runs/tune/tpe runs/tune/random runs/tune/grid
    python scripts/experiments/compare_samplers.py -o samplers.png --storage postgresql://host/db tpe random

Each STUDY is a study directory (OUTPUT_DIR/STUDY, holding its study.db), or with --storage a
study name in that database. Each line is labelled with the study's name and sampler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import optuna

from sentinet.reporting import plots
from sentinet.tuning.storage import open_storage
from sentinet.tuning import tuner
from sentinet.errors import SentinetError


def load(study: str, storage: str | None) -> tuple[str, optuna.Study]:
    """(label, study) for a study directory, or a study name in ``storage``."""
    if storage is None:
        directory = Path(study)
        if not (directory / "study.db").is_file():
            raise SentinetError(f"{directory}: no study.db here (give a study directory, or --storage URL)")
        storage, study = f"sqlite:///{directory.resolve() / 'study.db'}", directory.resolve().name
    names = optuna.get_all_study_names(open_storage(storage))
    if study not in names:
        raise SentinetError(f"no study {study!r} in {storage.shown_url(storage)} (it has: {', '.join(names) or 'none'})")
    loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
    return f"{study} ({loaded.user_attrs.get('sampler', 'tpe')})", loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", metavar="STUDY")
    parser.add_argument("-o", "--output", type=Path, default=Path("best_so_far.png"))
    parser.add_argument("--storage", help="a database URL: then each STUDY is a study name in it")
    parser.add_argument("--score", default="dev F-macro", help="the y axis label (default: %(default)s)")
    args = parser.parse_args(argv)
    tuner.quiet_optuna()
    series: dict[str, list] = {}
    try:
        for study in args.studies:
            label, loaded = load(study, args.storage)
            if label in series:  # two directories of one name
                label = f"{study} ({loaded.user_attrs.get('sampler', 'tpe')})"
            series[label] = tuner.scores(loaded.get_trials(deepcopy=False))
    except SentinetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not plots.write_best_so_far(args.output, series, lambda line: print(line, file=sys.stderr), args.score):
        print("error: nothing drawn (matplotlib missing, or no completed trial)", file=sys.stderr)
        return 1
    for label, points in series.items():
        print(f"{label}: {len(points)} finished trials")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
