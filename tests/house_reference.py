"""The house-only synth's reference: what adding styles to mvgen.synth must leave unchanged.

``tests/data/house_synth_reference.json`` holds:

* ``styles``: every house style as drawn (recipe values and note patterns) with one seed, and the
  clips' styles with theirs: the output of the seeded random streams, compared exactly;
* ``truths``: for each of three renders (:func:`render_all`: a deep house drop, a future rave /
  tech house build-up, a bigroom -> bass / slap house track), its ground truth (tempo, key,
  beats, sections, every event with its time and level) but the genre profile, whose layout grew
  with the styles; compared exactly;
* ``sketches``: each render's audio as a random-sign projection of every block (:func:`sketch`),
  compared within :data:`AUDIO_TOLERANCE_RMS`: float results differ between CPUs (numpy's SIMD
  exp/sin kernels, BLAS) by about 1e-6, so the audio itself cannot be compared bit for bit.

Regenerate only from a commit whose house audio is the house-only synth's (b44d990): made at
15f319b, whose audio had the sha256 of b44d990's on the machine that made it and whose drawn
styles and timelines equal b44d990's (the sha256 that the old test stored, made on an AVX2 machine,
came out there too with numpy's AVX-512 kernels turned off: NPY_DISABLE_CPU_FEATURES)::

    git archive 15f319b | tar -x -C /tmp/ref && PYTHONPATH=/tmp/ref python tests/house_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REFERENCE_PATH = Path(__file__).parent / "data" / "house_synth_reference.json"

#: Samples per sketched block (0.256 s at the renders' 16 kHz): the audio is checked block by block.
SKETCH_BLOCK = 4096
#: Random-sign projections per block: 8 estimate a block's RMS within a factor of 2.5 (99.9 %).
SKETCH_DIMS = 8
#: Largest RMS of the difference to the reference audio in any block (-90 dBFS): about 20 times
#: the worst CPU-to-CPU difference measured (1.6e-6, numpy with and without AVX-512 and AVX2), and
#: a quarter or less of what a change to a sound makes (the clap 0.1 % louder: 1.2e-4 to 3.4e-4).
AUDIO_TOLERANCE_RMS = 3e-5
#: Decimals kept in the stored sketch: a rounding error of 5e-7 against a tolerance of 0.002.
SKETCH_DECIMALS = 6

RENDER_SR = 16000
#: Every house style is drawn with this seed, and each rendered style with its render's seed.
STYLE_SEED = 2
RENDERED_STYLES = (("deep_house", 15), ("future_rave", 9), ("tech_house", 9))


def render_all(synth) -> dict[str, tuple[np.ndarray, object]]:
    """The three reference renders ``{name: (audio, truth)}`` with the given ``mvgen.synth`` module:
    two mono 3 s clips (16 kHz) and a 20 s stereo track of shape ``(2, n)``."""
    arrangement = synth.default_arrangement(["bigroom", {"bass_house": 0.7, "slap_house": 0.3}], seed=2, bars_scale=0.1)
    return {
        "clip": synth.render_clip("deep_house", seed=15, sr=RENDER_SR, duration_s=3.0, label="drop"),
        "blend": synth.render_clip({"future_rave": 0.6, "tech_house": 0.4}, seed=9, sr=RENDER_SR, duration_s=3.0, label="build-up"),
        "track": synth.render(arrangement, seed=2, sr=RENDER_SR, stereo=True),
    }


def sketch(audio: np.ndarray) -> np.ndarray:
    """``(C, blocks, SKETCH_DIMS)`` projections of ``audio`` ((n,) or (C, n), zero-padded to whole blocks).

    Linear, so ``sketch(a) - sketch(b) == sketch(a - b)``, and the norm of a block's projection
    divided by ``sqrt(SKETCH_BLOCK)`` estimates the RMS of that block.
    """
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    x = np.pad(x, ((0, 0), (0, -x.shape[1] % SKETCH_BLOCK)))
    signs = np.random.default_rng(0).choice((-1.0, 1.0), size=(SKETCH_BLOCK, SKETCH_DIMS)) / np.sqrt(SKETCH_DIMS)
    return x.reshape(len(x), -1, SKETCH_BLOCK) @ signs


def block_rms(sketch_difference: np.ndarray) -> np.ndarray:
    """Estimated RMS ``(C, blocks)`` of each block of the audio whose sketch is ``sketch_difference``."""
    return np.linalg.norm(sketch_difference, axis=-1) / np.sqrt(SKETCH_BLOCK)


def truth_fields(truth) -> dict:
    """A truth as JSON, without its schema version and genre profile (whose columns grew with the styles)."""
    data = truth.model_dump(mode="json")
    return {k: v for k, v in data.items() if k not in ("schema_version", "genre_profile")}


def drawn_style(style) -> dict:
    """A drawn style (``mvgen.synth.patterns.DrawnStyle``) as JSON: recipe values and note patterns, tuples as lists."""
    return json.loads(json.dumps(
        {"q": style.q, "bass": style.bass, "lead": style.lead, "comp": style.comp, "rims": style.rims, "congas": style.congas},
        default=lambda value: value.tolist(),  # numpy arrays and scalars
    ))


def style_draws(genres) -> list[tuple[str, int]]:
    """``(genre, seed)`` of the reference's drawn styles: each of ``genres`` and each rendered style."""
    return [(genre, STYLE_SEED) for genre in genres] + list(RENDERED_STYLES)


def make_reference(synth, genres) -> dict:
    """The reference file's content, from the given ``mvgen.synth`` module and house ``genres``."""
    renders = render_all(synth)
    return {
        "styles": {f"{genre}@{seed}": drawn_style(synth.patterns.DrawnStyle.draw(genre, seed)) for genre, seed in style_draws(genres)},
        "truths": {name: truth_fields(truth) for name, (_, truth) in renders.items()},
        "sketches": {name: np.round(sketch(audio), SKETCH_DECIMALS).tolist() for name, (audio, _) in renders.items()},
    }


if __name__ == "__main__":
    from mvgen import synth as _synth
    from mvgen.genres import GENRES

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE_PATH
    out.write_text(json.dumps(make_reference(_synth, GENRES), separators=(",", ":")) + "\n")
    print(out)
