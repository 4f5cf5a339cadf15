"""open_predictor decides, once, what kind of model a path holds: each kind opens to its own
predictor, and what cannot be opened is refused in the one line it always was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sentinet.baseline import BaselinePredictor
from sentinet.errors import SentinetError
from sentinet.inference.opener import ArchivePredictor, open_predictor
from sentinet.inference.averaging import EnsemblePredictor
from sentinet.inference.predictor import RunPredictor

ROOT = Path(__file__).resolve().parents[2]


def texts(models: dict[str, Path]) -> list[str]:
    return models["texts"].read_text(encoding="utf-8").splitlines()[:6]


def test_a_run_directory_and_its_model_file_open_to_one_run(models):
    for given in (models["run"], models["run"] / "model.pt"):
        predictor = open_predictor(given, "cpu")
        assert type(predictor) is RunPredictor
        assert predictor.path == models["run"] and predictor.run_dirs == [models["run"]]
        assert predictor.members == []


def test_an_ensemble_directory_opens_to_its_members_averaged(models):
    predictor = open_predictor(models["ensemble"], "cpu")
    assert type(predictor) is EnsemblePredictor and predictor.path == models["ensemble"]
    assert [type(m) for m in predictor.members] == [RunPredictor, RunPredictor]
    assert predictor.run_dirs == [models["run"].resolve(), models["cnn"].resolve()]
    assert all(m.threads is None and m.bias is None for m in predictor.members)  # the ensemble's hold
    probs = predictor.predict_proba(texts(models), progress=False)
    singles = [open_predictor(models[k], "cpu").predict_proba(texts(models), progress=False) for k in ("run", "cnn")]
    np.testing.assert_allclose(probs, np.mean(singles, axis=0), rtol=1e-6)


def test_an_export_archive_opens_unpacked_and_close_removes_the_folder(models):
    predictor = open_predictor(models["archive"], "cpu")
    assert type(predictor) is ArchivePredictor and type(predictor.unpacked) is RunPredictor
    assert predictor.path == models["archive"]
    (unpacked,) = predictor.run_dirs
    assert unpacked.is_dir() and not unpacked.is_relative_to(models["archive"].parent)
    same = open_predictor(models["run"], "cpu").predict_proba(texts(models), progress=False)
    np.testing.assert_allclose(predictor.predict_proba(texts(models), progress=False), same, atol=1e-6)
    predictor.close()
    assert not unpacked.exists()
    predictor.close()  # twice: nothing left to do


def test_a_baseline_run_opens_without_torch(models):
    assert type(open_predictor(models["baseline"], "cpu")) is BaselinePredictor
    code = ("import sys\nfrom sentinet.inference.opener import open_predictor\n"
            f"p = open_predictor({str(models['baseline'])!r})\n"
            "print(type(p).__name__, 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert got.stdout.split() == ["BaselinePredictor", "False"], got.stderr


def test_int8_on_a_baseline_is_refused_as_before(models):
    path = models["baseline"]
    with pytest.raises(SentinetError) as refused:
        open_predictor(path, "cpu", int8=True)
    assert str(refused.value) == f"--int8: {path} is a linear baseline; it has no neural layers to quantise"


def test_int8_quantises_every_member(models):
    predictor = open_predictor(models["ensemble"], "cpu", int8=True)
    for member in predictor.members:
        assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in member.run.model.modules())


def test_a_weighted_ensemble_with_a_baseline_member_opens_both_kinds(models, tmp_path):
    from sentinet.ensemble import combine_runs

    path = combine_runs([models["run"], models["baseline"]], tmp_path / "mixed", [3, 1]).path
    predictor = open_predictor(path, "cpu", int8=True)  # only the run has layers to quantise
    assert [type(m) for m in predictor.members] == [RunPredictor, BaselinePredictor]
    assert predictor.run_dirs == [models["run"].resolve(), models["baseline"].resolve()]
    assert predictor.threads is not None  # the run's CPU governs torch's threads
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in predictor.members[0].run.model.modules())
    singles = [open_predictor(models[k], "cpu", int8=k == "run").predict_proba(texts(models), progress=False)
               for k in ("run", "baseline")]
    probs = predictor.predict_proba(texts(models), progress=False)
    np.testing.assert_allclose(probs, 0.75 * singles[0] + 0.25 * singles[1], rtol=0, atol=1e-6)
    tokens = predictor.tokenize(texts(models)[0])
    rows = [m.occlusion_probabilities(tokens) for m in predictor.members]
    np.testing.assert_allclose(predictor.occlusion_probabilities(tokens), 0.75 * rows[0] + 0.25 * rows[1], atol=1e-6)
    with pytest.raises(SentinetError, match="is a linear baseline run: use --method occlusion"):
        predictor.gradient_inputs([])


def test_an_ensemble_of_baselines_has_no_thread_governor(models, tmp_path):
    import shutil

    from sentinet.ensemble import combine_runs

    twin = Path(shutil.copytree(models["baseline"], tmp_path / "twin"))
    predictor = open_predictor(combine_runs([models["baseline"], twin], tmp_path / "two").path, "cpu")
    assert [type(m) for m in predictor.members] == [BaselinePredictor, BaselinePredictor]
    assert predictor.threads is None
    single = open_predictor(models["baseline"], "cpu").predict_proba(texts(models))
    np.testing.assert_allclose(predictor.predict_proba(texts(models)), single, rtol=0, atol=1e-12)
    with pytest.raises(SentinetError, match="--int8: .* holds linear baselines only"):
        open_predictor(predictor.path, "cpu", int8=True)


def test_a_path_holding_no_model_is_refused_as_before(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SentinetError) as refused:
        open_predictor(missing, "cpu")
    assert str(refused.value) == f"{missing}: no such run directory, model file or export archive"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SentinetError) as refused:
        open_predictor(empty, "cpu")
    assert str(refused.value) == f"{empty}: not a sentinet run (missing config.yaml, vocab.json, model.pt)"


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_refused_before_the_path_is_looked_at(threads, tmp_path):
    with pytest.raises(SentinetError, match="threads: .* must be a whole number of at least 1"):
        open_predictor(tmp_path / "nowhere", "cpu", threads=threads)


def test_a_fixed_thread_count_holds_instead_of_a_governor(models):
    before = torch.get_num_threads()
    try:
        assert open_predictor(models["run"], "cpu").threads is not None
        predictor = open_predictor(models["run"], "cpu", threads=1)
        assert predictor.threads is None and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
