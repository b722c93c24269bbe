"""The 8 mainstage house sub-genres, in the order of HouseX-v2 (arXiv 2409.06690)."""

from __future__ import annotations

from collections.abc import Mapping

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


def genre_key(name: str) -> str:
    """Normalize a sub-genre name (``"Future House"``, ``"future-house"``, ``"Techno"``) to its key.

    Raises ``ValueError`` listing the valid keys when ``name`` is not a sub-genre.
    """
    if name in HOUSEX_NAMES:
        return HOUSEX_NAMES[name]
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key == "big_room":
        key = "bigroom"
    if key not in GENRES:
        raise ValueError(f"unknown sub-genre {name!r}; valid: {', '.join(GENRES)}")
    return key


def weights_to_vector(weights: Mapping[str, float]) -> np.ndarray:
    """Turn ``{name: weight}`` into a probability vector of shape ``(8,)`` summing to 1.

    Names go through :func:`genre_key`; weights must be >= 0 with a positive sum.
    """
    vector = np.zeros(len(GENRES), dtype=np.float64)
    for name, weight in weights.items():
        if weight < 0:
            raise ValueError(f"weight of {name!r} must be >= 0, got {weight}")
        vector[GENRES.index(genre_key(name))] += weight
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
