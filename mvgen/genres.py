"""Genre class names: the default taxonomy (the 8 mainstage house sub-genres of HouseX-v2, arXiv
2409.06690) and the helpers that work with any model's own classes.

A classifier's class list comes from its ``config.json`` (``ClassifierConfig.labels``); mvgen's
stages take that list as ``labels`` and fall back to :data:`GENRES` only where no model is involved.
Every taxonomy has one more outcome, :data:`OUT_OF_SCOPE`: audio outside the model's genres (other
music, speech, noise, silence). It has a style (``styles/other.yaml``) but is never a class to train
by name: models learn it as their extra output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Sub-genre keys, in the order of every probability vector in mvgen (shape ``(8,)``).
GENRES: tuple[str, ...] = (
    "progressive_house",
    "future_house",
    "bass_house",
    "tech_house",
    "deep_house",
    "bigroom",
    "future_rave",
    "slap_house",
)

#: Human-readable names, same order as :data:`GENRES`.
GENRE_NAMES: dict[str, str] = {
    "progressive_house": "Progressive House",
    "future_house": "Future House",
    "bass_house": "Bass House",
    "tech_house": "Tech House",
    "deep_house": "Deep House",
    "bigroom": "Bigroom",
    "future_rave": "Future Rave",
    "slap_house": "Slap House",
}

#: The out-of-scope outcome: what the model does not know. Its style is neutral and audio-driven.
OUT_OF_SCOPE = "other"
OUT_OF_SCOPE_NAME = "outside the model's genres"

#: HouseX-v2 class names (the dataset calls tech house "Techno") mapped to keys.
HOUSEX_NAMES: dict[str, str] = {
    "Progressive House": "progressive_house",
    "Future House": "future_house",
    "Bass House": "bass_house",
    "Techno": "tech_house",
    "Deep House": "deep_house",
    "Bigroom": "bigroom",
    "Future Rave": "future_rave",
    "Slap House": "slap_house",
}


def normalize_key(name: str) -> str:
    """A class name as a key: ``"Future House"`` and ``"future-house"`` -> ``"future_house"``;
    HouseX-v2's ``"Techno"`` -> ``"tech_house"``. Any other name is only lower-cased and snake-cased."""
    if name in HOUSEX_NAMES:
        return HOUSEX_NAMES[name]
    key = "_".join(name.strip().lower().replace("-", " ").replace("&", " and ").split())
    return "bigroom" if key == "big_room" else key


def genre_key(name: str, labels: Sequence[str] = GENRES) -> str:
    """Normalize a class name (see :func:`normalize_key`) and check it is one of ``labels``.

    Raises ``ValueError`` listing the valid keys when it is not.
    """
    key = normalize_key(name)
    if key not in labels:
        raise ValueError(f"unknown sub-genre {name!r}; valid: {', '.join(labels)}")
    return key


def display_name(key: str) -> str:
    """How a class is shown to people: ``"Deep House"``, ``"Drum And Bass"``, ``"outside the model's genres"``."""
    if key == OUT_OF_SCOPE:
        return OUT_OF_SCOPE_NAME
    return GENRE_NAMES.get(key) or key.replace("_", " ").title()


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """``labels`` as a tuple of distinct keys (already normalized), at least 2 and none named
    :data:`OUT_OF_SCOPE`; ``ValueError`` naming the problem otherwise."""
    labels = tuple(str(label) for label in labels)
    if len(labels) < 2:
        raise ValueError(f"a taxonomy needs at least 2 classes, got {list(labels)}")
    bad = [label for label in labels if normalize_key(label) != label or not label]
    if bad:
        raise ValueError(f"class names must be keys like 'drum_and_bass' (lower case, underscores), got {bad[0]!r} (as a key: {normalize_key(bad[0])!r})")
    if len(set(labels)) != len(labels):
        raise ValueError(f"class names must be distinct, got {list(labels)}")
    if OUT_OF_SCOPE in labels:
        raise ValueError(f"{OUT_OF_SCOPE!r} is the out-of-scope outcome every model has; it cannot be a class name")
    return labels


def weights_to_vector(weights: Mapping[str, float], labels: Sequence[str] = GENRES) -> np.ndarray:
    """Turn ``{name: weight}`` into a probability vector over ``labels`` (shape ``(len(labels),)``) summing to 1.

    Names go through :func:`genre_key`; weights must be >= 0 with a positive sum.
    """
    vector = np.zeros(len(labels), dtype=np.float64)
    for name, weight in weights.items():
        if weight < 0:
            raise ValueError(f"weight of {name!r} must be >= 0, got {weight}")
        vector[list(labels).index(genre_key(name, labels))] += weight
    total = vector.sum()
    if total <= 0:
        raise ValueError("genre weights must have a positive sum")
    return vector / total


def smooth_over_time(probabilities: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each sub-genre column of ``probabilities`` (shape ``(N, G)``, one row per time step) convolved
    with a symmetric ``kernel`` (weights per step), edges held; shape kept, rows not renormalized."""
    k = len(kernel)
    padded = np.pad(probabilities, ((k // 2, k - 1 - k // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(probabilities.shape[1])], axis=1)
