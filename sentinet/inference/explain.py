"""Why a tweet got its label: one contribution per token to the predicted class.

Two methods. ``occlusion`` asks the model itself: how much does p(predicted class) drop when
token i becomes ``<unk>``? It needs nothing but predictions, so the linear baseline has it
too. ``integrated_gradients`` (Sundararajan et al. 2017) integrates the gradient of the
predicted class's score along a straight path from a baseline input to the tweet's word
vectors; its attributions add up to f(tweet) − f(baseline) (completeness), which is checked
and reported, so a reader can see the numbers are an exact split of the score.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sentinet.config.fields import whole_number
from sentinet.data.vocab import UNK_ID
from sentinet.errors import SentinetError
from sentinet.inference.protocol import GradientInput, Predictor
from sentinet.labels import LabelSet, normalise
from sentinet.models.classifier import SentimentClassifier
from sentinet.models.hsoftmax import HierarchicalSoftmax

METHODS = ("occlusion", "integrated_gradients")
TOLERANCE = 0.01  # completeness: |sum − difference| / |difference| at most this
MAX_STEPS = 1024
CHUNK = 64  # path points per forward/backward pass


@dataclass
class Explanation:
    """A prediction and each token's contribution to its class (``scores`` aligns with ``tokens``)."""

    text: str
    tokens: list[str]
    label: int | str
    label_name: str
    probabilities: dict[str, float]
    method: str
    scores: list[float]
    completeness: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready, floats rounded to 6 digits (more is noise)."""
        completeness = None
        if self.completeness is not None:
            completeness = {k: round(v, 6) if isinstance(v, float) else v for k, v in self.completeness.items()}
        return {"text": self.text, "tokens": list(self.tokens), "label": self.label,
                "label_name": self.label_name, "method": self.method,
                "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
                "scores": [round(float(s), 6) for s in self.scores], "completeness": completeness}


def explain(predictor: Predictor, text: str, method: str = "occlusion", steps: int = 64,
            target_class: object = None) -> Explanation:
    """Explain ``predictor``'s label for ``text`` (any kind of model; integrated gradients need
    a neural one, and the predictor says so otherwise): the contributions to ``target_class``
    (a label or a class name), by default the predicted class, or for a multi-label run the
    most probable class (each class is decided on its own: ask for any of them)."""
    if method not in METHODS:
        raise SentinetError(f"unknown explanation method {method!r} (choose {' or '.join(METHODS)})")
    whole_number(steps, "steps")
    target = None if target_class is None else class_index(predictor.classes, target_class)
    tokens = _tokens(predictor, text)
    probs = predictor.predict_proba([text], progress=False)[0]  # exactly what predict says
    if target is None:
        target = int(np.argmax(probs)) if predictor.classes.multilabel else \
            predictor.classes.to_class(predictor.labels(probs[None])[0])
    label = predictor.classes.values[target]
    completeness = None
    if method == "occlusion":
        rows = occlusion_probabilities(predictor, tokens)
        scores = rows[0, target] - rows[1:, target]
    else:
        scores, completeness = _integrated_gradients(predictor.gradient_inputs(tokens), tokens, target, steps)
    names = predictor.classes.names
    return Explanation(text, tokens, label, names[target], {n: float(p) for n, p in zip(names, probs)},
                       method, [float(s) for s in scores], completeness)


def class_index(classes: LabelSet, wanted: object) -> int:
    """The class a user names, by label (``-1``, ``praise``) or by name (``negative``)."""
    names = [str(n) for n in classes.names]
    if str(wanted) in names:
        return names.index(str(wanted))
    try:
        return classes.to_class(normalise(wanted, "class"))
    except (KeyError, SentinetError):
        raise SentinetError(f"class {str(wanted)[:40]!r} is not one of the model's classes "
                            f"({', '.join(names)})") from None


def _tokens(predictor: Predictor, text: str) -> list[str]:
    """The tokens the model reads; an ensemble's members must read the same ones, or no
    single row of scores could describe them all."""
    tokens = predictor.tokenize(text)
    if any(m.tokenize(text) != tokens for m in predictor.members[1:]):
        raise SentinetError(f"{predictor.path}: the ensemble's members tokenise this text differently; "
                            "explain one member run instead")
    return tokens


def occlusion_probabilities(predictor: Predictor, tokens: list[str]) -> np.ndarray:
    """[N + 1, classes]: row 0 the tokens as they are, row i + 1 with token i occluded (made
    ``<unk>`` for a network, an n-gram-free mask for the baseline; an ensemble averages)."""
    return predictor.occlusion_probabilities(tokens)


# --------------------------------------------------------------------------------------
# Integrated gradients


def _integrated_gradients(inputs: Sequence[GradientInput], tokens: list[str], target: int,
                          steps: int) -> tuple[np.ndarray, dict]:
    """The networks' mean attributions (each reads the tokens with its own vocabulary)."""
    if not tokens:
        return np.zeros(0), {"sum": 0.0, "logit_difference": 0.0, "relative_error": 0.0,
                             "steps": steps, "target": _target_kind(inputs[0][0])}
    return complete_integrated_gradients(inputs, target, steps)


def complete_integrated_gradients(inputs: Sequence[tuple[SentimentClassifier, list[int], torch.device]],
                                  target: int, steps: int = 64) -> tuple[np.ndarray, dict]:
    """Mean attributions of (model, ids, device) inputs, the steps doubling until they add up
    to the mean score difference within ``TOLERANCE`` (or ``MAX_STEPS`` is reached): max
    pooling and ReLU make the path's integrand jump, so a fixed number of steps can fall short.
    Completeness holds for a mean if it holds for each part, so an ensemble is checked as one."""
    while True:
        parts = [integrated_gradients(model, ids, target, device, steps) for model, ids, device in inputs]
        attributions = np.mean([a for a, _ in parts], axis=0)
        difference = float(np.mean([d for _, d in parts]))
        total = float(attributions.sum())
        error = abs(total - difference) / max(abs(difference), 1e-6)
        if error <= TOLERANCE or steps >= MAX_STEPS:
            break
        steps = min(steps * 2, MAX_STEPS)
    return attributions, {"sum": total, "logit_difference": difference, "relative_error": error,
                          "steps": steps, "target": _target_kind(inputs[0][0])}


def integrated_gradients(model: SentimentClassifier, ids: list[int], target: int, device: torch.device,
                         steps: int = 64) -> tuple[np.ndarray, float]:
    """Per-token attributions to class ``target``'s score, and f(x) − f(baseline).

    The baseline is the same number of ``<unk>`` vectors: the input the model was taught to
    read as "a word I know nothing about" (word dropout trains it; with ``oov: zero`` the row
    is zeros), so each attribution says what knowing the word added. Zero vectors would be a
    point the model never saw. Both inputs are exactly the tweet's length: no padding row
    ever enters the path. The whole embedder output is the input, so a multichannel model's
    dynamic copy is attributed with its static one. Riemann midpoint rule over ``steps``."""
    model.eval()  # no dropout: the path must be one deterministic function
    ids_t = torch.tensor([ids], dtype=torch.long, device=device)
    with torch.no_grad():
        x = model.embedder(ids_t)[0].float()
        x0 = model.embedder(torch.full_like(ids_t, UNK_ID))[0].float()
    delta = x - x0
    total = torch.zeros_like(x)
    alphas = (torch.arange(steps, dtype=torch.float32, device=device) + 0.5) / steps
    for chunk in alphas.split(CHUNK):
        points = x0 + chunk[:, None, None] * delta
        total += _path_gradient(model, points, target)
    attributions = (delta * total / steps).sum(-1)
    with torch.no_grad():
        ends = _scores(model, torch.stack([x, x0]))[:, target]
    return attributions.double().cpu().numpy(), float(ends[0] - ends[1])


def _path_gradient(model: SentimentClassifier, points: torch.Tensor, target: int) -> torch.Tensor:
    """Sum over the points of d score / d input. Outside inference mode, with grad on, and with
    cuDNN off (its RNN backward refuses eval mode); autograd.grad leaves the weights' .grad alone."""
    with torch.inference_mode(False), torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        points = points.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_scores(model, points)[:, target].sum(), points)
    return grad.sum(0)


def _scores(model: SentimentClassifier, vectors: torch.Tensor) -> torch.Tensor:
    """SentimentClassifier.forward from the embedder's output on: logits (log-probabilities
    for a hierarchical head), for a batch of equal-length inputs."""
    lengths = torch.full((vectors.size(0),), vectors.size(1), dtype=torch.long)
    return model.head(model.encoder(model.embedding_dropout(vectors), lengths))


def _target_kind(model: SentimentClassifier) -> str:
    """What the attributed score is: a hierarchical head outputs log-probabilities."""
    return "log_probability" if isinstance(model.head[-1], HierarchicalSoftmax) else "logit"


# --------------------------------------------------------------------------------------
# Views


def _scale(scores: Sequence[float]) -> float:
    return max((abs(s) for s in scores), default=0.0) or 1.0


def _completeness_note(e: Explanation) -> str:
    c = e.completeness
    if not c:
        return ""
    return (f"completeness: sum {c['sum']:+.4f} vs {c.get('target', 'logit')} difference "
            f"{c['logit_difference']:+.4f} ({100 * c['relative_error']:.2f}% off, {c['steps']} steps)")


def format_table(explanation: Explanation, width: int = 24) -> str:
    """A header line, then one line per token: token, signed score, a bar ∝ |score|."""
    e = explanation
    p = e.probabilities.get(e.label_name, float("nan"))
    header = f"{e.label_name} (p={p:.3f})  method: {e.method}"
    note = _completeness_note(e)
    lines = [f"{header}  {note}" if note else header]
    scale = _scale(e.scores)
    shown = [t if len(t) <= 20 else t[:19] + "…" for t in e.tokens]
    column = max((len(t) for t in shown), default=0)
    for token, score in zip(shown, e.scores):
        lines.append(f"{token:<{column}}  {score:+.6f}  {'+' if score >= 0 else '-'}{_bar(abs(score) / scale, width)}")
    return "\n".join(lines)


def _bar(fraction: float, width: int) -> str:
    """Eighth blocks, so small differences between tokens still show."""
    eighths = round(fraction * width * 8)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


# Blue for, orange against (Okabe & Ito's colour-blind-safe pair): not green/red, which read as
# good/bad sentiment, and a negative word that supports a negative label is "for" it.
FOR_RGB, AGAINST_RGB = (0, 114, 178), (230, 159, 0)
STYLE = """
body { font-family: "DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif; color: #111;
       background: #fff; margin: 24px; max-width: 860px; }
h1 { font-size: 20px; margin: 0 0 8px; }
.meta, .legend, .source { color: #555; font-size: 13px; }
table.probs { border-collapse: collapse; margin: 10px 0 16px; font-size: 14px; }
table.probs td { padding: 2px 8px 2px 0; }
table.probs tr.chosen { font-weight: bold; }
.pbar { display: inline-block; height: 10px; background: #888; vertical-align: middle; }
.text { font-size: 22px; line-height: 2.1; margin: 8px 0 16px; }
.tok { padding: 3px 5px; margin: 0 1px; border-radius: 4px; border: 1px solid #ddd; white-space: pre; }
.swatch { display: inline-block; width: 28px; height: 12px; border: 1px solid #ccc;
          vertical-align: middle; margin: 0 4px; }
"""


def _colour(score: float, scale: float) -> str:
    """Blue helps the predicted class, orange hurts it; opacity ∝ |score| / max |score| (at most
    0.8 on white, where dark text still has WCAG AA contrast)."""
    r, g, b = FOR_RGB if score >= 0 else AGAINST_RGB
    return f"rgba({r}, {g}, {b}, {0.8 * min(abs(score) / scale, 1.0):.3f})"


def render_html(explanation: Explanation) -> str:
    """One self-contained page (inline CSS, nothing fetched): label, probabilities, coloured tokens."""
    e, esc = explanation, html.escape
    scale = _scale(e.scores)
    rows = "".join(
        f'<tr class="{"chosen" if name == e.label_name else ""}"><td>{esc(name)}</td>'
        f'<td><span class="pbar" style="width:{round(160 * p)}px"></span></td><td>{p:.3f}</td></tr>'
        for name, p in e.probabilities.items())
    spans = " ".join(
        f'<span class="tok" style="background:{_colour(s, scale)}" title="{s:+.6f}">{esc(t)}</span>'
        for t, s in zip(e.tokens, e.scores)) or '<span class="meta">(no tokens)</span>'
    name = esc(e.label_name)
    kind = (e.completeness or {}).get("target")
    what = {"occlusion": f"p({name})"}.get(e.method) or (f"log p({name})" if kind == "log_probability"
                                                          else f"the logit of {name}")
    note = _completeness_note(e)
    legend = (f'<span class="swatch" style="background:{_colour(1, 1)}"></span>for the predicted class ({name})'
              f'<span class="swatch" style="background:{_colour(-1, 1)}"></span>against it'
              f" &nbsp;· colour = support, not sentiment; strongest = |score| {scale:.4f}")
    method = "occlusion (token → &lt;unk&gt;)" if e.method == "occlusion" else "integrated gradients"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>sentinet: why {esc(e.label_name)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Predicted: {esc(e.label_name)} <span class="meta">(label {esc(str(e.label))})</span></h1>
<table class="probs">{rows}</table>
<p class="meta">Each token's contribution to {what}; method: {method}.
{esc(note)}</p>
<p class="text">{spans}</p>
<p class="legend">{legend}</p>
<p class="source">text: {esc(e.text)}</p>
</body></html>
"""
