"""Evaluation of soft sub-genre predictions: the benchmark's metrics plus soft-label metrics.

The HouseX-v2 benchmark (arXiv 2409.06690) scores a classifier against each track's *dominant*
label (the argmax of its soft label): top-1 accuracy and macro precision / recall / F1 over the 8
sub-genres, with a confusion matrix. Because the labels are soft, :func:`evaluate_predictions`
also reports how close whole distributions are (mean Jensen-Shannon divergence) and whether the
two leading sub-genres agree (top-2 agreement).

Conventions shared by every function here:

* A distribution is a row of ``K`` non-negative weights (``K = 8`` in :data:`~mvgen.genres.GENRES`
  order); rows are normalized to sum to 1 inside, so raw weights or counts are accepted.
* The dominant class of a row is its argmax; ties go to the lowest index (``np.argmax``).
* Invalid input raises ``ValueError`` naming the offending parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from mvgen.genres import GENRES, OUT_OF_SCOPE, display_name

#: Short column names for the confusion matrix, keyed like :data:`GENRES` (at most 5 letters).
ABBREVIATIONS: dict[str, str] = {
    "progressive_house": "PROG",
    "future_house": "FUTH",
    "bass_house": "BASS",
    "tech_house": "TECH",
    "deep_house": "DEEP",
    "bigroom": "BIGRM",
    "future_rave": "FRAVE",
    "slap_house": "SLAP",
    OUT_OF_SCOPE: "OTHER",
}


class EvalReport(BaseModel):
    """Metrics of ``n`` predictions against soft targets; JSON-serializable (``model_dump_json``)."""

    n: int = Field(description="number of evaluated rows (tracks or clips)")
    labels: list[str] = Field(description="class keys, in the column order of the inputs")
    top1_accuracy: float = Field(description="fraction with argmax(prediction) == argmax(target), in [0, 1]")
    macro_precision: float = Field(description="unweighted mean over all classes of per-class precision (dominant labels)")
    macro_recall: float = Field(description="unweighted mean over all classes of per-class recall (dominant labels)")
    macro_f1: float = Field(description="unweighted mean over all classes of per-class F1 (dominant labels)")
    per_class: dict[str, dict[str, float]] = Field(description="label -> precision, recall, f1, support (true dominant count)")
    confusion: list[list[int]] = Field(description="K x K counts; rows = true dominant, columns = predicted dominant")
    mean_js_divergence: float = Field(description="mean Jensen-Shannon divergence (base 2) of prediction vs target, in [0, 1]")
    top2_agreement: float = Field(description="fraction of rows whose leading two classes agree (see evaluate_predictions)")
    calibration_error: float | None = Field(None, description="expected calibration error of the top label (see expected_calibration_error); None when not computed")


def _distributions(x, name: str, k: int | None = None) -> np.ndarray:
    """``x`` as a float array of shape ``(N, K)`` (a 1-D ``(K,)`` becomes ``(1, K)``), rows summing to 1."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers") from None
    if a.ndim == 1:
        a = a[None, :]
    want = "(N, K)" if k is None else f"(N, {k})"
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0 or (k is not None and a.shape[1] != k):
        raise ValueError(f"{name} must have shape {want} with N >= 1, got {np.shape(x)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if np.any(a < 0):
        raise ValueError(f"{name} must be non-negative")
    sums = a.sum(axis=1)
    if np.any(sums <= 0):
        raise ValueError(f"{name} row {int(np.argmin(sums > 0))} has no positive weight")
    return a / sums[:, None]


def _js_divergences(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-row JS divergence (base 2) of normalized ``(N, K)`` arrays, shape ``(N,)``, in [0, 1]."""
    # scipy returns the JS *distance* (sqrt of the divergence); the clip absorbs float round-off.
    return np.clip(jensenshannon(p, q, base=2, axis=1) ** 2, 0.0, 1.0)


def mean_js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Mean Jensen-Shannon divergence (base 2, so in [0, 1]) between rows of ``p`` and ``q``.

    ``p`` and ``q``: same shape, ``(K,)`` or ``(N, K)``, non-negative, each row with a positive sum
    (normalized inside). 0 means identical distributions, 1 disjoint supports. Works for any ``K``,
    e.g. two genre profiles sampled at the same times.
    """
    pn = _distributions(p, "p")
    qn = _distributions(q, "q")
    if pn.shape != qn.shape:
        raise ValueError(f"q must have the same shape as p: p {np.shape(p)}, q {np.shape(q)}")
    return float(_js_divergences(pn, qn).mean())


def _top2_agree(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-row top-2 agreement of normalized ``(N, K)`` arrays (K >= 2), boolean shape ``(N,)``."""
    # The prediction's top 2: highest two probabilities, ties to the lower index (stable sort).
    top2 = np.argsort(-predictions, axis=1, kind="stable")[:, :2]
    # They agree when the target weights on those two classes are the target's two largest
    # weights. This is set equality of the top-2 sets when the target has no ties, accepts any
    # valid choice when it has (e.g. [.5, .25, .25]), and for a one-hot target (second largest
    # weight 0) reduces to "the target's class is among the prediction's top 2". Exact float
    # comparison is right here: equal raw weights stay equal after normalization.
    on_top2 = np.sort(np.take_along_axis(targets, top2, axis=1), axis=1)
    best2 = np.sort(targets, axis=1)[:, -2:]
    return np.all(on_top2 == best2, axis=1)


def evaluate_predictions(targets: np.ndarray, predictions: np.ndarray, labels: Sequence[str] = GENRES) -> EvalReport:
    """Score ``predictions`` against soft ``targets``; both of shape ``(N, K)``, ``K = len(labels)``.

    Rows must be non-negative with a positive sum (they are normalized here), N >= 1.

    * ``top1_accuracy``, ``macro_*``, ``per_class``, ``confusion``: on dominant labels (argmax,
      ties to the lower index), as in the HouseX-v2 benchmark. Macro averages are over all K
      classes, including those absent from the targets (scikit-learn ``average="macro"`` with
      ``labels=range(K)``, ``zero_division=0``: an undefined precision/recall/F1 counts as 0).
      ``macro_f1`` is the mean of per-class F1, not the F1 of macro precision and recall.
    * ``mean_js_divergence``: mean over rows of the base-2 Jensen-Shannon divergence, in [0, 1].
    * ``top2_agreement``: fraction of rows where the prediction's two most probable classes
      (ties to the lower index) carry the target's two largest weights. Without ties in the target
      that is: the two top-2 sets are equal; with ties, any valid top-2 set of the target counts;
      when the target has a single non-zero class, the row agrees iff that class is in the
      prediction's top 2.
    """
    labels = [str(label) for label in labels]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be at least 2 distinct names, got {labels}")
    k = len(labels)
    t = _distributions(targets, "targets", k)
    p = _distributions(predictions, "predictions", k)
    if len(p) != len(t):
        raise ValueError(f"predictions must have as many rows as targets: {len(t)} targets, {len(p)} predictions")

    y_true = np.argmax(t, axis=1)
    y_pred = np.argmax(p, axis=1)
    classes = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=0
    )
    macro_p, macro_r, macro_f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average="macro", zero_division=0
    )
    return EvalReport(
        n=len(t),
        labels=labels,
        top1_accuracy=float(accuracy_score(y_true, y_pred)),
        macro_precision=float(macro_p),
        macro_recall=float(macro_r),
        macro_f1=float(macro_f),
        per_class={
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": float(support[i])}
            for i, label in enumerate(labels)
        },
        confusion=confusion_matrix(y_true, y_pred, labels=classes).astype(int).tolist(),
        mean_js_divergence=float(_js_divergences(p, t).mean()),
        top2_agreement=float(_top2_agree(t, p).mean()),
    )


def evaluate_clips(model, clips: Sequence) -> EvalReport:
    """:func:`evaluate_predictions` of a :class:`~mvgen.classify.classifier.GenreClassifier`'s predictions
    (:func:`~mvgen.classify.classifier.predict_clips`) for labelled clips (each with its mono ``audio`` and
    its ``target`` over the model's outputs), with the calibration error of those predictions."""
    from mvgen.classify.classifier import predict_clips

    probabilities = predict_clips(model, [c.audio for c in clips])
    targets = np.stack([c.target for c in clips])
    report = evaluate_predictions(targets, probabilities, labels=model.config.output_labels)
    return report.model_copy(update={"calibration_error": expected_calibration_error(probabilities, targets)})


def _abbreviation(label: str) -> str:
    return ABBREVIATIONS.get(label, label[:5].upper())


def format_report(report: EvalReport) -> str:
    """Plain-text summary for a terminal: headline metrics, per-class table, confusion matrix."""
    abbr = [_abbreviation(label) for label in report.labels]
    names = [display_name(label) for label in report.labels]
    lines = [
        f"n = {report.n}",
        f"top-1 accuracy   {report.top1_accuracy:.3f}",
        f"macro precision  {report.macro_precision:.3f}   recall {report.macro_recall:.3f}   F1 {report.macro_f1:.3f}",
        f"mean JS diverg.  {report.mean_js_divergence:.3f}   (base 2; 0 = identical, 1 = disjoint)",
        f"top-2 agreement  {report.top2_agreement:.3f}",
    ]
    if report.calibration_error is not None:
        lines.append(f"calibration err. {report.calibration_error:.3f}   (expected calibration error of the top label; 0 = says what it knows)")
    lines += [
        "",
    ]
    # The per-class table doubles as the legend of the confusion matrix's abbreviations.
    name_w = max(len(n) for n in names)
    abbr_w = max(5, *(len(a) for a in abbr))
    lines.append(f"{'':<{abbr_w}}  {'sub-genre':<{name_w}}  {'prec':>5}  {'rec':>5}  {'F1':>5}  {'support':>7}")
    for a, name, label in zip(abbr, names, report.labels):
        c = report.per_class[label]
        lines.append(
            f"{a:<{abbr_w}}  {name:<{name_w}}  {c['precision']:>5.3f}  {c['recall']:>5.3f}  {c['f1']:>5.3f}  {int(c['support']):>7d}"
        )
    lines += ["", "confusion (rows = true dominant, columns = predicted; . = 0)"]
    cell_w = max(abbr_w, *(len(str(v)) for row in report.confusion for v in row)) + 1
    lines.append(f"{'':<{abbr_w}}" + "".join(f"{a:>{cell_w}}" for a in abbr))
    for a, row in zip(abbr, report.confusion):
        # Dots for zeros let the few off-diagonal counts stand out.
        lines.append(f"{a:<{abbr_w}}" + "".join(f"{(str(v) if v else '.'):>{cell_w}}" for v in row))
    return "\n".join(lines)


#: Confidence bins of :func:`expected_calibration_error` (the usual 15 equal-width bins of Guo et al. 2017).
ECE_BINS = 15


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error of ``probabilities`` ``(N, K)`` against the dominant class of
    ``targets`` ``(N, K)``: the mean over equal-width confidence bins of |accuracy - confidence|,
    weighted by the share of rows in each bin. 0 is perfect; a model that says 90 % and is right
    70 % of the time scores 0.2."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != np.shape(targets) or probabilities.ndim != 2:
        raise ValueError(f"probabilities and targets must both have shape (N, K), got {probabilities.shape} and {np.shape(targets)}")
    if len(probabilities) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(targets).argmax(axis=1)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)
