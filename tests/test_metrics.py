"""Evaluation metrics against hand-computed values: dominant-label metrics, JS divergence, top-2 rule."""

import json
from itertools import combinations

import numpy as np
import pytest

from mvgen.genres import GENRE_NAMES, GENRES
from mvgen.training.metrics import ABBREVIATIONS, EvalReport, evaluate_predictions, format_report, mean_js_divergence

K = len(GENRES)


def soft(main: int, other: int | None = None, w: float = 0.7) -> np.ndarray:
    """A distribution of shape (8,) with weight ``w`` on ``main`` and the rest on ``other``."""
    v = np.zeros(K)
    if other is None:
        v[main] = 1.0
    else:
        v[main], v[other] = w, 1.0 - w
    return v


def known_case():
    # Dominant labels: true [0,0,0,1,1,2], predicted [0,0,1,1,2,2]; soft around them.
    targets = np.stack([soft(0, 3), soft(0), soft(0, 5, 0.9), soft(1, 0), soft(1), soft(2, 7, 0.6)])
    predictions = np.stack([soft(0, 1, 0.8), soft(0, 2), soft(1, 0, 0.55), soft(1), soft(2, 1, 0.51), soft(2)])
    return targets, predictions


def test_perfect_predictions():
    # Every class present, so no class has an undefined (zeroed) F1.
    targets = np.stack([soft(i, (i + 1) % K) for i in range(K)] + [soft(i) for i in range(K)])
    report = evaluate_predictions(targets, targets.copy())
    assert report.n == 2 * K
    assert report.labels == list(GENRES)
    assert report.top1_accuracy == 1.0
    assert report.macro_precision == report.macro_recall == report.macro_f1 == 1.0
    assert report.mean_js_divergence == pytest.approx(0.0, abs=1e-12)
    assert report.top2_agreement == 1.0
    np.testing.assert_array_equal(report.confusion, 2 * np.eye(K, dtype=int))
    for label in GENRES:
        assert report.per_class[label] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2.0}


def test_known_confusion_by_hand():
    report = evaluate_predictions(*known_case())
    assert report.top1_accuracy == pytest.approx(4 / 6)
    # class 0: TP 2 of 2 predicted, 3 true -> P 1, R 2/3, F1 0.8
    # class 1: TP 1 of 2 predicted, 2 true -> P 1/2, R 1/2, F1 1/2
    # class 2: TP 1 of 2 predicted, 1 true -> P 1/2, R 1, F1 2/3
    # classes 3..7: never true nor predicted -> 0 (zero_division=0), still in the macro mean over 8.
    assert report.macro_precision == pytest.approx((1 + 0.5 + 0.5) / 8)
    assert report.macro_recall == pytest.approx((2 / 3 + 0.5 + 1) / 8)
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 8)
    pc = report.per_class
    assert pc["progressive_house"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3.0})
    assert pc["future_house"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2.0})
    assert pc["bass_house"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1.0})
    assert pc["slap_house"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0.0}
    expected = np.zeros((K, K), dtype=int)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[1, 2], expected[2, 2] = 2, 1, 1, 1, 1
    assert report.confusion == expected.tolist()


def test_js_divergence_of_known_distributions():
    assert mean_js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert mean_js_divergence([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(0.0, abs=1e-12)
    # [1, 0] vs [1/2, 1/2]: mixture m = [3/4, 1/4]; JS = (KL(p||m) + KL(q||m)) / 2 in bits.
    kl_p = np.log2(4 / 3)
    kl_q = 0.5 * np.log2(2 / 3) + 0.5 * np.log2(2)
    assert mean_js_divergence([1, 0], [0.5, 0.5]) == pytest.approx((kl_p + kl_q) / 2)
    assert mean_js_divergence([0.5, 0.5], [1, 0]) == pytest.approx((kl_p + kl_q) / 2)
    # Rows are normalized, and the mean is over rows.
    assert mean_js_divergence([[2, 0], [3, 0]], [[0, 5], [1, 0]]) == pytest.approx(0.5)


def test_js_divergence_in_report():
    targets, predictions = known_case()
    report = evaluate_predictions(targets, predictions)
    assert report.mean_js_divergence == pytest.approx(mean_js_divergence(predictions, targets))
    assert 0.0 < report.mean_js_divergence < 1.0
    disjoint = evaluate_predictions(np.stack([soft(0), soft(1)]), np.stack([soft(2), soft(3)]))
    assert disjoint.mean_js_divergence == pytest.approx(1.0)


@pytest.mark.parametrize(
    "target, prediction, agree",
    [
        # Soft targets: the top-2 sets must be equal (order within them does not matter).
        (soft(0, 1, 0.6), soft(1, 0, 0.6), True),
        (soft(0, 1, 0.9), soft(0, 2, 0.9), False),
        (soft(0, 1, 0.6), [0.5, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.1], False),
        # A tie in the target: either valid top-2 set counts.
        ([0.5, 0.25, 0.25, 0, 0, 0, 0, 0], [0.5, 0.1, 0.4, 0, 0, 0, 0, 0], True),
        ([0.5, 0.25, 0.25, 0, 0, 0, 0, 0], [0.5, 0.4, 0.1, 0, 0, 0, 0, 0], True),
        ([0.5, 0.25, 0.25, 0, 0, 0, 0, 0], [0.1, 0.4, 0.5, 0, 0, 0, 0, 0], False),
        # One-hot targets: the target's class must be among the prediction's top 2.
        (soft(3), [0.6, 0, 0, 0.3, 0, 0, 0, 0.1], True),
        (soft(3), [0.1, 0, 0, 0.9, 0, 0, 0, 0], True),
        (soft(3), [0.5, 0, 0, 0.2, 0, 0, 0, 0.3], False),
        # Unnormalized weights are normalized first.
        ([0, 0, 4, 0, 0, 0, 0, 0], [1, 0, 3, 0, 0, 0, 0, 0], True),
    ],
)
def test_top2_rule(target, prediction, agree):
    report = evaluate_predictions(np.array([target], dtype=float), np.array([prediction], dtype=float))
    assert report.top2_agreement == (1.0 if agree else 0.0)


def test_top2_matches_the_stated_rule_on_random_data():
    rng = np.random.default_rng(7)
    n = 300
    targets = rng.dirichlet(np.full(K, 0.5), size=n)
    targets[: n // 3] = np.eye(K)[rng.integers(0, K, n // 3)]  # a third one-hot
    predictions = rng.dirichlet(np.ones(K), size=n)
    # Half the predictions are nudged towards the target, so both outcomes are common.
    predictions[::2] = 0.3 * predictions[::2] + 0.7 * targets[::2]
    expected = []
    for t, p in zip(targets, predictions):
        top_p = set(np.argsort(-p)[:2])
        if np.count_nonzero(t) == 1:
            expected.append(int(np.argmax(t)) in top_p)
        else:
            expected.append(top_p == set(np.argsort(-t)[:2]))
    report = evaluate_predictions(targets, predictions)
    assert 0.1 < report.top2_agreement < 0.9
    assert report.top2_agreement == pytest.approx(np.mean(expected))


@pytest.mark.parametrize(
    "targets, predictions, name",
    [
        (np.ones((3, 7)), np.ones((3, 8)), "targets"),
        (np.ones((3, 8)), np.ones((3, 8, 1)), "predictions"),
        (np.ones((0, 8)), np.ones((0, 8)), "targets"),
        (-np.eye(8), np.eye(8), "targets"),
        (np.eye(8), np.where(np.eye(8) > 0, np.nan, 0.0), "predictions"),
        (np.eye(8), np.full((8, 8), np.inf), "predictions"),
        (np.vstack([np.eye(8)[:2], np.zeros(8)]), np.ones((3, 8)), "targets"),
        (np.eye(8), np.ones((7, 8)), "predictions"),
        ([["a"] * 8], np.ones((1, 8)), "targets"),
    ],
)
def test_input_validation(targets, predictions, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        evaluate_predictions(targets, predictions)


def test_validation_of_labels_and_js_inputs():
    with pytest.raises(ValueError, match="^targets "):
        evaluate_predictions(np.eye(8), np.eye(8), labels=GENRES[:4])
    with pytest.raises(ValueError, match="^labels "):
        evaluate_predictions(np.eye(2), np.eye(2), labels=["a", "a"])
    with pytest.raises(ValueError, match="^q "):
        mean_js_divergence(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="^p "):
        mean_js_divergence([0.0, 0.0], [0.5, 0.5])


def test_custom_labels():
    report = evaluate_predictions(np.eye(3), np.eye(3)[[0, 2, 1]], labels=["a", "b", "c"])
    assert report.labels == ["a", "b", "c"] and list(report.per_class) == ["a", "b", "c"]
    assert report.top1_accuracy == pytest.approx(1 / 3)
    # Unknown labels get their first letters, upper-cased, as the abbreviation, and a title-cased name.
    assert any(line.split()[:2] == ["A", "A"] for line in format_report(report).splitlines() if line.strip())


def test_json_round_trip():
    report = evaluate_predictions(*known_case())
    text = report.model_dump_json(indent=1)
    assert json.loads(text)["confusion"] == report.confusion
    assert EvalReport.model_validate_json(text) == report


def test_format_report_has_the_key_numbers():
    report = evaluate_predictions(*known_case())
    text = format_report(report)
    for value in (report.top1_accuracy, report.macro_precision, report.macro_recall, report.macro_f1,
                  report.mean_js_divergence, report.top2_agreement):
        assert f"{value:.3f}" in text
    assert "n = 6" in text
    for label in GENRES:
        assert ABBREVIATIONS[label] in text and GENRE_NAMES[label] in text
        assert 1 <= len(ABBREVIATIONS[label]) <= 5
    # Confusion rows: abbreviation, then counts with "." for zero.
    lines = text.splitlines()
    prog_row = [line for line in lines if line.startswith("PROG") and "Progressive" not in line]
    assert prog_row and prog_row[0].split() == ["PROG", "2", "1"] + ["."] * 6
    assert all(len(line) <= 100 for line in lines)
    assert len(set(ABBREVIATIONS.values())) == len(ABBREVIATIONS) == K + 1  # the classes and "other"


def test_abbreviations_are_distinct_over_all_pairs():
    # Columns must stay distinguishable: no abbreviation is a prefix of another.
    for a, b in combinations(ABBREVIATIONS.values(), 2):
        assert not a.startswith(b) and not b.startswith(a)


def test_expected_calibration_error_on_known_cases():
    from mvgen.training.metrics import expected_calibration_error

    targets = np.eye(2)[[0] * 10]
    # Says 90 % and is right 9 times out of 10: calibrated.
    probabilities = np.array([[0.9, 0.1]] * 9 + [[0.1, 0.9]])
    assert expected_calibration_error(probabilities, targets) == pytest.approx(0.0, abs=1e-12)
    # Says 90 % and is right 7 times out of 10: off by 0.2.
    probabilities = np.array([[0.9, 0.1]] * 7 + [[0.1, 0.9]] * 3)
    assert expected_calibration_error(probabilities, targets) == pytest.approx(0.2)
    report = evaluate_predictions(targets, probabilities, labels=["a", "other"]).model_copy(update={"calibration_error": 0.2})
    text = format_report(report)
    assert "calibration err. 0.200" in text and "OTHER  outside the model's genres" in text
