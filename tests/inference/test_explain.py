"""Token-level explanations: the word that decides the label gets the largest share, the
occlusion numbers are predict's own, integrated gradients add up, and the views show it."""

from __future__ import annotations

import dataclasses
import html
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sentinet.config.schema import ModelConfig
from sentinet.errors import SentinetError
from sentinet.inference.explain import (
    Explanation, complete_integrated_gradients, explain, format_table, integrated_gradients,
    _colour, occlusion_probabilities, render_html,
)
from sentinet.inference.opener import open_predictor
from sentinet.inference.averaging import EnsemblePredictor
from sentinet.inference.protocol import Predictor
from sentinet.config.encoders import ENCODERS
from sentinet.models.classifier import Embedder, SentimentClassifier

from tests.helpers import FILLER, NAMES, NEUTRAL, UNSEEN, run_cli, tiny_config_yaml, write_word2vec_text

CPU = torch.device("cpu")
PLANTED = {1: "отлично", -1: "плохо", 0: "новости"}  # the one word that decides each label
WORDS = [w for w in [*FILLER, *NEUTRAL, *NAMES.values()] if w not in PLANTED.values()]
ROOT = Path(__file__).resolve().parents[2]


def planted_data(root: Path, n: int = 150) -> dict[str, Path]:
    """A TSV where each tweet is four filler words and its label's planted word, anywhere."""
    rng = random.Random(0)
    rows = ["id\ttext\tlabel"]
    for i in range(n):
        label = (1, -1, 0)[i % 3]
        words = rng.sample(WORDS, 4)
        words.insert(rng.randrange(5), PLANTED[label])
        rows.append(f"{i}\t{' '.join(words)}\t{label}")
    data = {"dir": root, "train": root / "train.tsv", "vectors": root / "vectors.txt"}
    data["train"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    # отлично/плохо point apart in the vectors (helpers' POSITIVE/NEGATIVE); UNSEEN are never trained on
    write_word2vec_text(data["vectors"], sorted({*WORDS, *PLANTED.values(), *UNSEEN}), dim=8)
    return data


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, Path]:
    """A GRU (10 epochs, ~7 s) and the TF-IDF baseline trained on the planted data, once."""
    data = planted_data(tmp_path_factory.mktemp("planted"))
    config = data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, encoder="gru", epochs=10), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", "train.patience=10")
    assert result.returncode == 0, result.stderr
    result = run_cli("baseline", "--config", str(config))
    assert result.returncode == 0, result.stderr
    runs = sorted((data["dir"] / "runs").iterdir())
    (baseline,) = [r for r in runs if "-baseline-" in r.name]
    (gru,) = [r for r in runs if r != baseline]
    return {**data, "gru": gru, "baseline": baseline}


def load(run: Path) -> Predictor:
    return open_predictor(run, "cpu")


# Neutral is left out: the official F-macro that picks the epoch ignores it, so the kept epoch
# (the first with a perfect dev score) has not learned новости as firmly.
TEXTS = [("сбербанк опять плохо офис в", -1, "плохо"), ("мой отлично карта это втб", 1, "отлично")]


@pytest.mark.parametrize("method", ["occlusion", "integrated_gradients"])
@pytest.mark.parametrize("text, label, word", TEXTS, ids=["negative", "positive"])
def test_the_planted_word_gets_the_largest_attribution(planted, method, text, label, word):
    e = explain(load(planted["gru"]), text, method)
    assert e.label == label and e.label_name == {1: "positive", -1: "negative", 0: "neutral"}[label]
    assert e.tokens == text.split() and len(e.scores) == len(e.tokens)
    top = int(np.argmax(e.scores))
    assert e.tokens[top] == word and e.scores[top] > 0, format_table(e)
    others = [abs(s) for i, s in enumerate(e.scores) if i != top]
    assert e.scores[top] > 2 * max(others), format_table(e)
    if method == "integrated_gradients":
        assert e.completeness["relative_error"] <= 0.01, e.completeness
        assert e.completeness["target"] == "logit"
        assert e.completeness["sum"] == pytest.approx(sum(e.scores), rel=1e-9)
    else:
        assert e.completeness is None


def test_occlusion_is_predict_with_the_token_unknown(planted):
    """Row 0 is predict's probabilities to the bit (unseen words fetched as predict fetches
    them); each score is p(text) − p(text with that token as an unknown word)."""
    text = "великолепно плохо zzzq офис"  # an unseen word with a vector, one with none
    e = explain(load(planted["gru"]), text)
    fresh = load(planted["gru"]).predict_proba([text], progress=False)
    rows = occlusion_probabilities(load(planted["gru"]), e.tokens)
    assert rows.shape == (len(e.tokens) + 1, 3)
    np.testing.assert_array_equal(rows[0], fresh[0])
    assert list(e.probabilities.values()) == [float(p) for p in fresh[0]]
    target = ["negative", "neutral", "positive"].index(e.label_name)
    assert e.scores[2] == 0.0  # zzzq is <unk> already: nothing to take away
    predictor = load(planted["gru"])
    for i, token in enumerate(e.tokens):
        occluded = " ".join("qqqz" if j == i else t for j, t in enumerate(e.tokens))  # OOV → <unk>
        p = predictor.predict_proba([occluded], progress=False)[0, target]
        assert e.scores[i] == pytest.approx(fresh[0, target] - p, abs=1e-6)


def test_baseline_runs_have_occlusion_and_refuse_gradients(planted):
    predictor = load(planted["baseline"])
    e = explain(predictor, "сбербанк опять плохо офис в")
    assert e.label == -1 and e.tokens[int(np.argmax(e.scores))] == "плохо", format_table(e)
    np.testing.assert_array_equal(occlusion_probabilities(predictor, e.tokens)[0],
                                  predictor.predict_proba([e.text], progress=False)[0])
    with pytest.raises(SentinetError, match="baseline.*--method occlusion"):
        explain(predictor, "плохо", "integrated_gradients")


def test_an_ensemble_averages_its_members(planted, tmp_path):
    one, other = load(planted["gru"]), load(planted["gru"])
    head = other.run.model.head[-1]
    with torch.no_grad():  # a second, different member: its head's weights moved
        head.weight.add_(0.3 * torch.randn(head.weight.shape, generator=torch.Generator().manual_seed(1)))
    both = EnsemblePredictor(tmp_path, [one, other])
    text = "сбербанк опять плохо офис"
    e = explain(both, text, "integrated_gradients")
    assert e.completeness["relative_error"] <= 0.01
    target = both.classes.to_class(e.label)
    parts = [integrated_gradients(p.run.model, p.run.vocab.encode(e.tokens), target, CPU,
                                  e.completeness["steps"]) for p in (one, other)]
    assert not np.allclose(parts[0][0], parts[1][0])
    np.testing.assert_allclose(e.scores, (parts[0][0] + parts[1][0]) / 2, rtol=1e-6, atol=1e-9)
    assert e.completeness["logit_difference"] == pytest.approx((parts[0][1] + parts[1][1]) / 2)
    rows = occlusion_probabilities(both, e.tokens)
    np.testing.assert_array_equal(rows[0], both.predict_proba([text], progress=False)[0])
    np.testing.assert_allclose(rows, (occlusion_probabilities(one, e.tokens)
                                      + occlusion_probabilities(other, e.tokens)) / 2, rtol=1e-6)


def test_an_empty_text_explains_nothing(planted):
    for method in ("occlusion", "integrated_gradients"):
        e = explain(load(planted["gru"]), "", method)
        assert e.tokens == [] and e.scores == []
        assert len(format_table(e).splitlines()) == 1
        assert "(no tokens)" in render_html(e)


def test_bad_method_and_steps_are_one_line_errors(planted):
    predictor = load(planted["gru"])
    with pytest.raises(SentinetError, match="unknown explanation method 'lime'"):
        explain(predictor, "плохо", "lime")
    with pytest.raises(SentinetError, match="steps"):
        explain(predictor, "плохо", "integrated_gradients", steps=0)


# --------------------------------------------------------------------------------------
# Integrated gradients on untrained models of every kind (no run needed)


def make_model(name: str, head: str = "linear", multichannel: bool = False, **options) -> SentimentClassifier:
    torch.manual_seed(0)
    small = {"filters": 6, "widths": [2, 3]} if name == "cnn" else {"hidden_size": 8}
    opts = dataclasses.replace(ENCODERS[name].options(name=name), **{**small, **options})
    embedder = Embedder(torch.randn(20, 8), n_learned=4, freeze=True, learn_oov=True, multichannel=multichannel)
    config = ModelConfig(encoder=opts, embedding_dropout=0.3, head=head, multichannel=multichannel)
    model = SentimentClassifier(embedder, config, num_classes=3, class_counts=[5, 3, 1])
    if head == "hierarchical":  # its nodes start at zero: every class at even odds
        torch.nn.init.normal_(model.head[-1].nodes.weight)
    return model.train()  # explaining must switch dropout off itself


MODELS = {"gru": ("gru", {}), "cnn": ("cnn", {}), "lstm": ("lstm", {}), "sru": ("sru", {}),
          "rnn-mean": ("rnn", {"pooling": "mean"}), "cnn-multichannel": ("cnn", {"multichannel": True}),
          "gru-hierarchical": ("gru", {"head": "hierarchical"}), "lstm-last": ("lstm", {"pooling": "last"})}
IDS = [5, 9, 1, 12, 7, 3, 17]  # 1 is <unk>: the baseline itself


@pytest.mark.parametrize("name, options", MODELS.values(), ids=MODELS)
def test_integrated_gradients_add_up_to_the_score_difference(name, options):
    model = make_model(name, **options)
    for target in range(3):
        scores, c = complete_integrated_gradients([(model, IDS, CPU)], target, steps=32)
        assert not model.training
        assert c["relative_error"] <= 0.01 and c["steps"] <= 1024, c
        assert c["sum"] == pytest.approx(scores.sum()) and len(scores) == len(IDS)
        with torch.no_grad():  # the difference is the model's own: f(ids) − f(all <unk>)
            out = model(torch.tensor([IDS, [1] * len(IDS)]), torch.tensor([len(IDS)] * 2))[:, target]
        assert c["logit_difference"] == pytest.approx(float(out[0] - out[1]), rel=1e-5, abs=1e-6)
        assert scores[2] == 0.0  # the <unk> token is its own baseline
        assert c["target"] == ("log_probability" if options.get("head") == "hierarchical" else "logit")
    assert all(p.grad is None for p in model.parameters())  # weights untouched


# --------------------------------------------------------------------------------------
# Views


def sample(method: str = "occlusion") -> Explanation:
    tokens = ["<script>", "alert", "&", '"хорошо"', "плохо"]
    completeness = None if method == "occlusion" else {
        "sum": 1.5, "logit_difference": 1.501, "relative_error": 0.000666, "steps": 64, "target": "logit"}
    return Explanation('<script>alert(1)</script> & "хорошо" плохо', tokens, 1, "positive",
                       {"negative": 0.1, "neutral": 0.2, "positive": 0.7}, method,
                       [0.01, -0.2, 0.0, 0.5, -0.0400004], completeness)


def test_render_html_is_escaped_and_self_contained():
    page = render_html(sample())
    assert '<meta charset="utf-8">' in page and page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    for token in sample().tokens:
        assert f">{html.escape(token)}</span>" in page
    assert page.count('class="tok"') == 5
    assert "http" not in page and "src=" not in page and "<link" not in page and "@import" not in page
    # the strongest token at full strength, blue for, orange against
    assert 'style="background:rgba(0, 114, 178, 0.800)" title="+0.500000">&quot;хорошо&quot;' in page
    assert 'style="background:rgba(230, 159, 0, 0.320)" title="-0.200000">alert' in page
    assert "for the predicted class (positive)" in page and "against it" in page


BLUE = "rgba(0, 114, 178, "


def test_a_negative_word_is_blue_for_a_negative_label(planted):
    """Issue 31.13: colours say for/against the predicted class, not sentiment, so плохо
    supporting "negative" is blue (not green), and no green or red is left on the page."""
    e = explain(load(planted["gru"]), "сбербанк опять плохо офис в")
    assert e.label_name == "negative"
    page = render_html(e)
    top = max(e.scores)
    assert f'style="background:{BLUE}0.800)" title="{top:+.6f}">плохо</span>' in page
    assert "for the predicted class (negative)" in page and "against it" in page
    colours = re.findall(r"rgba\((\d+, \d+, \d+), [\d.]+\)", page)
    assert colours and set(colours) <= {"0, 114, 178", "230, 159, 0"}  # no green or red left


def test_the_label_in_the_legend_is_escaped():
    e = dataclasses.replace(sample(), label_name="<i>bad</i>", probabilities={"<i>bad</i>": 1.0})
    page = render_html(e)
    assert "for the predicted class (&lt;i&gt;bad&lt;/i&gt;)" in page and "<i>" not in page


def test_dark_text_keeps_aa_contrast_on_the_strongest_colours():
    """#111 text on the fullest blue and orange (blended on white) has WCAG AA contrast (≥ 4.5)."""
    def luminance(rgb):
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    text = luminance((0x11,) * 3)
    for score in (1, -1):
        *rgb, alpha = (float(v) for v in _colour(score, 1)[5:-1].split(","))
        on_white = [alpha * v + (1 - alpha) * 255 for v in rgb]
        assert (luminance(on_white) + 0.05) / (text + 0.05) >= 4.5, (score, on_white)


def test_format_table_has_a_line_per_token_and_the_longest_bar_for_the_largest():
    for method in ("occlusion", "integrated_gradients"):
        lines = format_table(sample(method)).splitlines()
        assert len(lines) == 1 + 5
        assert "positive" in lines[0] and method in lines[0]
        assert ("completeness" in lines[0]) == (method == "integrated_gradients")
        bars = [line.count("█") for line in lines[1:]]
        assert bars.index(max(bars)) == 3 and "+0.500000" in lines[4] and "-0.200000" in lines[2]


def test_to_dict_is_json_with_rounded_numbers():
    data = json.loads(json.dumps(sample("integrated_gradients").to_dict(), ensure_ascii=False))
    assert data["scores"][4] == -0.04 and data["tokens"][3] == '"хорошо"'
    assert data["completeness"] == {"sum": 1.5, "logit_difference": 1.501, "relative_error": 0.000666,
                                    "steps": 64, "target": "logit"}
    assert data["label"] == 1 and data["method"] == "integrated_gradients"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_renders_in_chromium(planted, tmp_path):
    """The script end to end: the page is drawn, the planted word's blue shows for its negative
    label, and nothing on it is green."""
    png = tmp_path / "why.png"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot_explain.py"), str(planted["gru"]),
                             "сбербанк опять плохо <b>офис</b> & в", str(png)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(png.with_suffix(".html")), str(png)]
    assert png.stat().st_size > 5000
    try:
        from matplotlib.image import imread
    except ImportError:
        return
    pixels = imread(png)[..., :3]  # floats in [0, 1]
    assert pixels.std() > 0.05  # not blank
    r, g, b = (pixels[..., i] for i in range(3))
    assert ((b - r > 0.4) & (b - g > 0.15)).sum() > 500  # the blue box behind плохо
    assert ((g - r > 0.2) & (g - b > 0.2)).sum() == 0  # no green anywhere
    assert ((r - g > 0.35) & (r - b > 0.35)).sum() == 0  # nor red (full orange has r − g ≈ 0.22)
