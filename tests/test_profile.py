"""The bundled classifier inside the analysis: the profile follows the sub-genres of unseen synthetic tracks."""

import numpy as np
import pytest

from mvgen import synth
from mvgen.analysis.track import analyze
from mvgen.media.audio import write_audio
from mvgen.classify.classifier import default_checkpoint
from mvgen.genres import GENRES

pytestmark = pytest.mark.skipif(default_checkpoint() is None, reason="bundled classifier not installed")

HELD_OUT = 200_000  # seeds far from the training (0-1199) and evaluation (100000-100319) seeds


def _section_means(analysis):
    profile = analysis.genre_profile
    times = np.array(profile.times_s)
    probabilities = np.array(profile.probabilities)
    return [(s, probabilities[(times >= s.start_s) & (times < s.end_s)].mean(axis=0)) for s in analysis.sections if np.any((times >= s.start_s) & (times < s.end_s))]


@pytest.mark.slow
def test_profile_follows_a_genre_switch(tmp_path):
    arrangement = synth.Arrangement(
        bpm=124.0,
        sections=[
            synth.SectionSpec(label="intro", bars=8, genres={"deep_house": 1.0}),
            synth.SectionSpec(label="drop", bars=16, genres={"deep_house": 1.0}),
            synth.SectionSpec(label="breakdown", bars=8, genres={"tech_house": 1.0}),
            synth.SectionSpec(label="drop", bars=16, genres={"tech_house": 1.0}),
        ],
    )
    y, truth = synth.render(arrangement, seed=HELD_OUT, sr=22050, stereo=False)
    path = tmp_path / "switch.wav"
    write_audio(path, y, 22050)
    analysis = analyze(path)
    profile = analysis.genre_profile
    assert profile is not None and profile.labels == list(GENRES)
    probabilities = np.array(profile.probabilities)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    times = np.array(profile.times_s)
    first_drop, second_drop = [d for d in truth.sections if d.label == "drop"]
    inside = lambda s: (times >= s.start_s + 3) & (times < s.end_s - 3)  # noqa: E731 - away from the switch
    assert GENRES[probabilities[inside(first_drop)].mean(axis=0).argmax()] == "deep_house"
    assert GENRES[probabilities[inside(second_drop)].mean(axis=0).argmax()] == "tech_house"


@pytest.mark.slow
@pytest.mark.parametrize("genre", ["progressive_house", "bass_house", "future_rave", "slap_house"])
def test_drops_of_unseen_tracks(genre, tmp_path):
    arrangement = synth.default_arrangement([genre], seed=HELD_OUT + 1, bars_scale=0.5)
    y, truth = synth.render(arrangement, seed=HELD_OUT + 1, sr=22050, stereo=False)
    path = tmp_path / f"{genre}.wav"
    write_audio(path, y, 22050)
    drops = [mean for section, mean in _section_means(analyze(path)) if section.label == "drop"]
    assert drops and all(GENRES[m.argmax()] == genre for m in drops)
