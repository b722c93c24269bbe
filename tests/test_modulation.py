"""The styles' modulation matrices, frame by frame: sources from known event series -> mapper -> FrameSpec.

The audio features are built from event series with exactly known times (``AudioFeatures.from_arrays``:
kicks on a grid, snares off it, hats, a swelling bass band, and a silent stretch), so every
modulated value can be checked against its source on every frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from mvgen.analysis.track import Analysis, AudioSummary, GenreProfile
from mvgen.style.blend import StyleTable
from mvgen.errors import MvgenError
from mvgen.style.framespec import MOTIFS
from mvgen.genres import GENRES
from mvgen.style.mapper import IMPULSE_FLOOR, IMPULSE_RELEASE_S, map_frames, modulation_sources, release_envelope
from mvgen.analysis.reactive import FEATURES, SOURCES, AudioFeatures
from mvgen.style.styles import TARGETS, load_styles, validate_styles

FPS = 30.0
HOP_S = 256 / 22050  # the analysis feature grid
DURATION_S = 20.0
SILENT_S = (8.0, 12.0)  # no events at all here
BPM = 124.0
BEAT_S = 60.0 / BPM


def _events() -> dict[str, np.ndarray]:
    """Event times (s) of the test track: kicks on every beat, snares off the grid (a 3/16 shuffle), 16th hats."""
    beats = np.arange(0.3, DURATION_S - 0.1, BEAT_S)
    loud = lambda t: t[(t < SILENT_S[0]) | (t >= SILENT_S[1])]  # noqa: E731
    return {
        "kick": loud(beats),
        "snare": loud(beats[1::2] + 0.37 * BEAT_S),
        "hats": loud(np.arange(0.3 + BEAT_S / 8, DURATION_S - 0.1, BEAT_S / 2)),
    }


def _features() -> AudioFeatures:
    """One-hop onsets (the hardest case for the frame timing) at each event, heights varying per event;
    ``low``: a bass swell of one cycle per 2 bars, silent in the gap; everything else 0."""
    n = int(DURATION_S / HOP_S)
    arrays = {name: np.zeros(n) for name in FEATURES}
    rng = np.random.default_rng(3)
    for name, times in _events().items():
        arrays[name][np.round(times / HOP_S).astype(int)] = rng.uniform(0.5, 1.0, len(times))
    t = np.arange(n) * HOP_S
    low = 0.5 + 0.5 * np.sin(2 * np.pi * t / (8 * BEAT_S))
    arrays["low"] = np.where((t < SILENT_S[0]) | (t >= SILENT_S[1]), low, 0.0)
    return AudioFeatures.from_arrays(HOP_S, arrays)


def _analysis(features: AudioFeatures | None = None, profile: tuple[str, str] | None = None, switch_s: float = 5.0) -> Analysis:
    beats = list(np.arange(0.3, DURATION_S - 0.1, BEAT_S))
    genre_profile = None
    if profile is not None:  # the first genre until switch_s, then the second (smoothed by the mapper)
        times = list(np.arange(0.0, DURATION_S + 0.5, 0.5))
        rows = [np.eye(8)[GENRES.index(profile[0] if t < switch_s else profile[1])].tolist() for t in times]
        genre_profile = GenreProfile(labels=list(GENRES), times_s=times, probabilities=rows, in_scope=[1.0] * len(times))
    return Analysis(
        audio=AudioSummary(path="x.wav", content_hash="0", sr=22050, channels=1, duration_s=DURATION_S),
        duration_s=DURATION_S, tempo_bpm=BPM, beats_s=beats, downbeats_s=beats[::4],
        genre_profile=genre_profile, audio_features=features,
    )


_STILL = {"zoom_per_beat": 0.0, "rotation_deg_per_bar": 0.0, "drift": 0.0, "shake_on_kick": 0.0, "flash_on_drop": 0.0, "strobe": 0.0, "reactivity": 0.0}


def _table(matrices: dict[str, dict] | None = None, default: dict | None = None) -> StyleTable:
    """The default styles with base motion zero and the given ``modulate`` (per style key; ``default`` for the rest)."""
    styles = load_styles()
    matrices = matrices or {}
    changed = {}
    for key, style in styles.items():
        motion = style.motion.model_copy(update=_STILL)
        changed[key] = style.model_copy(update={"motion": motion, "modulate": matrices.get(key, default or {})})
    return StyleTable.from_styles(changed)


def _frames_of(times_s: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(times_s) * FPS).astype(int)


#: (source, target, the FrameSpec value it moves)
CASES = [
    ("kick", "zoom", lambda s: s.zoom),
    ("snare", "flash", lambda s: s.flash),
    ("hats", "particles", lambda s: s.motif_boost["particles"]),
    ("snare", "hue", lambda s: s.hue_shift_deg),
    ("kick", "strength", lambda s: s.strength_offset),
    ("hats", "grid.speed", lambda s: s.motif_speed["grid"]),
]


@pytest.fixture(scope="module")
def features():
    return _features()


@pytest.mark.parametrize("source,target,value", CASES, ids=[f"{s}->{t}" for s, t, _ in CASES])
def test_impulsive_target_peaks_on_its_events_and_follows_them(features, source, target, value):
    analysis = _analysis(features)
    amount = 0.3
    moved = np.array([value(s) for s in map_frames(analysis, _table(default={source: {target: amount}}), fps=FPS)])
    still = map_frames(analysis, _table(), fps=FPS)
    base = np.array([value(s) if target not in ("particles", "grid.speed") else 0.0 for s in still])
    times = np.array([s.time_s for s in still])
    events = _events()[source]
    # peaks within one frame of each event (the frame nearest the event, or its neighbour)
    excess = moved - base
    for frame in _frames_of(events):
        window = excess[max(frame - 3, 0) : frame + 4]
        peak = max(frame - 3, 0) + int(np.argmax(window))
        assert abs(peak - frame) <= 1, (source, target, frame, peak)
        assert excess[peak] > 0.5 * amount * 0.5  # events are 0.5..1 high
    # correlates with the event track (the feature itself at the frames, no envelope)
    track = features.at_frames(times, FPS)[source]
    r = np.corrcoef(excess, track)[0, 1]
    assert r >= 0.8, (source, target, r)
    # still where the source is silent (from a release's length after the last event to the next)
    quiet = (times >= SILENT_S[0] + 0.4) & (times < SILENT_S[1] - 0.5 / FPS)
    assert quiet.sum() > 100
    np.testing.assert_array_equal(moved[quiet], base[quiet])


def test_continuous_source_breathes_with_its_band(features):
    """low -> brightness: the gain follows the bass band frame by frame and is exactly 1 in the silence."""
    analysis = _analysis(features)
    specs = map_frames(analysis, _table(default={"low": {"brightness": 0.4}}), fps=FPS)
    times = np.array([s.time_s for s in specs])
    brightness = np.array([s.brightness for s in specs])
    low = features.at_frames(times, FPS)["low"]
    assert np.corrcoef(brightness, low)[0, 1] > 0.99
    np.testing.assert_allclose(brightness, 1.0 + 0.4 * low, atol=1e-6)
    silent = (times >= SILENT_S[0] + 0.1) & (times < SILENT_S[1] - 0.1)
    assert np.all(brightness[silent] == 1.0)
    assert brightness.max() > 1.35


def test_unmodulated_frames_equal_the_frames_without_a_matrix(features):
    """With the default (moving) styles, a matrix whose source is silent leaves every frame exactly as before."""
    analysis = _analysis(features)
    styles = load_styles()
    plain = StyleTable.from_styles({k: s.model_copy(update={"modulate": {}}) for k, s in styles.items()})
    # 'air' is 0 everywhere in this track
    routed = StyleTable.from_styles({k: s.model_copy(update={"modulate": {"air": {t: 0.1 for t in ("zoom", "flash", "brightness", "speed", "tunnel", "strength")}}}) for k, s in styles.items()})
    a, b = map_frames(analysis, plain, fps=FPS), map_frames(analysis, routed, fps=FPS)
    for x, y in zip(a, b):
        assert (x.zoom, x.flash, x.brightness, x.speed, x.strength_offset, x.shake_x) == (y.zoom, y.flash, y.brightness, y.speed, y.strength_offset, y.shake_x)
        assert y.motif_boost == {"tunnel": 0.0} and x.motif_boost == {}


def test_release_envelope_punches_and_decays():
    x = np.zeros(40)
    x[[5, 20, 21]] = [1.0, 0.4, 0.8]
    env = release_envelope(x, FPS)
    step = np.exp(-1.0 / (FPS * IMPULSE_RELEASE_S))
    assert env[5] == 1.0 and env[4] == 0.0  # instant attack on the event's frame, nothing before it
    np.testing.assert_allclose(env[6:9], step ** np.arange(1, 4))  # then the release
    assert env[20] == 0.4 and env[21] == 0.8  # a louder hit takes over at once
    assert env[30:].max() < 0.02 and np.all((env == 0) | (env >= IMPULSE_FLOOR))
    assert np.all(env[16:20] == 0.0)  # back to exactly 0 (under the floor) 11 frames, 0.35 s, after the hit


def test_sources_without_features_are_the_grid_only():
    analysis = _analysis(None)
    times = np.arange(int(DURATION_S * FPS)) / FPS
    src = modulation_sources(analysis, times, FPS)
    assert src.shape == (len(times), len(SOURCES))
    assert np.all(src[:, : len(FEATURES)] == 0.0)
    beat = src[:, SOURCES.index("beat")]
    down = src[:, SOURCES.index("downbeat")]
    beat_frames = _frames_of(analysis.beats_s)
    assert np.all(beat[beat_frames] == 1.0) and np.all(beat[beat_frames - 1] < 1.0)
    assert np.all(down[_frames_of(analysis.downbeats_s)] == 1.0) and down[beat_frames[1]] < 0.2
    bar = src[:, SOURCES.index("bar")]
    at_downbeats = bar[_frames_of(analysis.downbeats_s[1:])]  # the nearest frame may fall just before the bar starts
    assert bar.min() >= 0.0 and bar.max() < 1.0 and np.all(np.minimum(at_downbeats, 1.0 - at_downbeats) < 0.05)
    # kick -> zoom has nothing to follow: every frame keeps its unmodulated zoom; beat -> zoom pulses
    assert all(s.zoom == 1.0 for s in map_frames(analysis, _table(default={"kick": {"zoom": 0.2}}), fps=FPS))
    zoom = np.array([s.zoom for s in map_frames(analysis, _table(default={"beat": {"zoom": 0.2}}), fps=FPS)])
    np.testing.assert_allclose(zoom[beat_frames], 1.2)


def test_matrices_blend_by_the_genre_weights(features):
    analysis = _analysis(features, profile=("deep_house", "bigroom"))
    table = _table({"deep_house": {"kick": {"zoom": 0.1}}, "bigroom": {"kick": {"zoom": 0.02, "flash": 0.5}}})
    specs = map_frames(analysis, table, fps=FPS)
    times = np.array([s.time_s for s in specs])
    weights = np.array([s.genre_weights for s in specs])
    deep, big = GENRES.index("deep_house"), GENRES.index("bigroom")
    kick = modulation_sources(analysis, times, FPS)[:, SOURCES.index("kick")]
    zoom = np.array([s.zoom for s in specs])
    flash = np.array([s.flash for s in specs])
    np.testing.assert_allclose(zoom - 1.0, (0.1 * weights[:, deep] + 0.02 * weights[:, big]) * kick, atol=1e-9)
    np.testing.assert_allclose(flash, 0.5 * weights[:, big] * kick, atol=1e-9)
    mixed = (weights[:, deep] > 0.3) & (weights[:, big] > 0.3) & (kick > 0.5)
    assert mixed.any()  # the blend is tested where both styles count
    # the table's own blend gives the same matrix
    w = weights[np.argmax(mixed)]
    blended = table.blend(w).modulation
    assert blended[SOURCES.index("kick"), TARGETS.index("zoom")] == pytest.approx(0.1 * w[deep] + 0.02 * w[big])


def test_prompt_gain_is_per_style(features):
    analysis = _analysis(features, profile=("deep_house", "bigroom"))
    table = _table({"bigroom": {"snare": {"prompt": 1.0}}})
    specs = map_frames(analysis, table, fps=FPS)
    times = np.array([s.time_s for s in specs])
    snare = modulation_sources(analysis, times, FPS)[:, SOURCES.index("snare")]
    big, deep = GENRES.index("bigroom"), GENRES.index("deep_house")
    pw = np.array([s.prompt_weights for s in specs])
    gw = np.array([s.genre_weights for s in specs])
    np.testing.assert_allclose(pw[:, big], gw[:, big] * (1.0 + snare), atol=1e-9)
    np.testing.assert_array_equal(pw[:, deep], gw[:, deep])  # the other prompts keep their weights
    assert map_frames(analysis, _table(), fps=FPS)[0].prompt_weights == ()  # nothing modulated: the genre weights


def test_default_styles_each_follow_the_music_their_own_way(features):
    """Each shipped style has its own matrix, and on the test track its signature routing shows."""
    styles = load_styles()
    routes = {key: {(s, t) for s, row in style.modulate.items() for t in row} for key, style in styles.items()}
    assert all(routes.values()) and len({frozenset(r) for r in routes.values()}) == len(routes)
    times = np.arange(int(DURATION_S * FPS)) / FPS
    for genre, (source, value) in {"deep_house": ("low", lambda s: s.brightness), "bigroom": ("snare", lambda s: s.flash),
                                   "tech_house": ("hats", lambda s: s.motif_boost["particles"])}.items():
        analysis = _analysis(features, profile=(genre, genre))
        specs = map_frames(analysis, StyleTable.from_styles(styles), fps=FPS)
        track = features.at_frames(times, FPS)[source]
        r = np.corrcoef([value(s) for s in specs], track)[0, 1]
        assert r > 0.8, (genre, source, r)


def test_unknown_names_are_rejected_with_the_allowed_list(tmp_path):
    bad_source = tmp_path / "bigroom.yaml"
    bad_source.write_text("modulate:\n  kick: {zoom: 0.02}\n  kik: {flash: 0.3}\n")
    with pytest.raises(MvgenError) as info:
        load_styles(bad_source)
    message = str(info.value)
    assert message.startswith(f"{bad_source}:3: modulate.kik: unknown modulation source 'kik'")
    assert "(allowed: " + ", ".join(SOURCES) + ")" in message
    bad_target = tmp_path / "deep_house.yaml"
    bad_target.write_text("modulate:\n  low:\n    brightnes: 0.3\n")
    with pytest.raises(MvgenError) as info:
        load_styles(bad_target)
    message = str(info.value)
    assert message.startswith(f"{bad_target}:3: modulate.low.brightnes: unknown modulation target 'brightnes'")
    assert "(allowed: " + ", ".join(TARGETS) + ")" in message and "lasers.density" in message
    out_of_range = tmp_path / "tech_house.yaml"
    out_of_range.write_text("modulate:\n  kick: {zoom: 2}\n")
    problems = validate_styles(tmp_path)
    assert len(problems) == 3
    assert f"{out_of_range}:2: modulate.kick.zoom: 2 is out of range (allowed: -0.5..0.5, camera zoom factor" in "\n".join(problems)


def test_a_partial_file_replaces_the_matrix_and_inherits_the_rest(tmp_path):
    defaults = load_styles()
    (tmp_path / "bigroom.yaml").write_text("modulate:\n  hats: {lasers: 0.7}\n")
    (tmp_path / "deep_house.yaml").write_text("modulate: {}\n")
    (tmp_path / "tech_house.yaml").write_text("procedural: {speed: 0.5}\n")
    styles = load_styles(tmp_path)
    assert styles["bigroom"].modulate == {"hats": {"lasers": 0.7}}  # replaced as a whole, not merged
    assert styles["bigroom"].palette == defaults["bigroom"].palette
    assert styles["deep_house"].modulate == {}
    assert styles["tech_house"].modulate == defaults["tech_house"].modulate  # not given: inherited
    assert load_styles(None)["other"].modulate  # styles without modulate stay valid: see the next line
    table = StyleTable.from_styles({k: s.model_copy(update={"modulate": {}}) for k, s in defaults.items()})
    assert not table.modulation.any() and table.modulation.shape == (len(defaults), len(SOURCES), len(TARGETS))


def _modulated_values(spec) -> tuple:
    """Every FrameSpec value a modulation target can move."""
    return (spec.zoom, spec.rotation_deg, spec.drift_x, spec.drift_y, spec.shake_x, spec.shake_y, spec.flash, spec.brightness,
            spec.hue_shift_deg, spec.speed, spec.density, spec.strength_offset, tuple(spec.prompt_weights or spec.genre_weights),
            *(spec.motif_boost.get(m, 0.0) for m in MOTIFS), *(spec.motif_speed.get(m, 0.0) for m in MOTIFS),
            *(spec.motif_density.get(m, 0.0) for m in MOTIFS), spec.logo)


def test_every_target_moves_on_its_source_and_only_then(features):
    """kick -> each target in turn: frames differ from the unmodulated ones on the kicks, and only while the kick's envelope lasts."""
    from mvgen.style.styles import MODULATION_TARGETS

    analysis = _analysis(features)
    still = [_modulated_values(s) for s in map_frames(analysis, _table(), fps=FPS)]
    times = np.arange(len(still)) / FPS
    kick = modulation_sources(analysis, times, FPS)[:, SOURCES.index("kick")]
    kick_frames = _frames_of(_events()["kick"])
    for target in TARGETS:
        low, high, _ = MODULATION_TARGETS[target]
        amount = high / 2 if high > 0 else low / 2
        moved = [_modulated_values(s) for s in map_frames(analysis, _table(default={"kick": {target: amount}}), fps=FPS)]
        changed = np.array([a != b for a, b in zip(moved, still)])
        assert np.all(kick[changed] > 0), target  # nothing moves without its source
        assert changed[kick_frames].mean() > 0.9, target  # and it moves on (nearly) every kick


def test_procedural_pixels_follow_the_source(features):
    """snare -> brightness through the mapper and the procedural renderer: each frame's extra light
    over the unmodulated frame follows the snare, and the frames are identical where it is silent."""
    from mvgen.renderers.procedural import ProceduralRenderer

    analysis = _analysis(features)
    window = slice(int(5.5 * FPS), int(10.0 * FPS))  # three snares, then the silent stretch
    moved = map_frames(analysis, _table(default={"snare": {"brightness": 0.8}}), fps=FPS)[window]
    still = map_frames(analysis, _table(), fps=FPS)[window]
    r = ProceduralRenderer(48, 27, device="cpu")
    luma = lambda frames: frames.float().mean(dim=(1, 2, 3)).numpy()  # noqa: E731
    lit, plain = r.render(moved), r.render(still)
    excess = luma(lit) - luma(plain)
    times = np.array([s.time_s for s in moved])
    snare = features.at_frames(times, FPS)["snare"]
    assert np.corrcoef(excess, snare)[0, 1] >= 0.8
    quiet = times >= SILENT_S[0] + 0.4
    assert quiet.sum() > 30 and bool((lit[quiet] == plain[quiet]).all())
    snare_frames = _frames_of(_events()["snare"]) - window.start
    snare_frames = snare_frames[(snare_frames >= 0) & (snare_frames < len(times))]
    peaks = [excess[f - 1 : f + 2].max() for f in snare_frames]  # within one frame of each snare
    assert len(snare_frames) >= 3 and min(peaks) > 5  # grey levels brighter on every snare
