"""Recipe data of the synth: the styles, their tempo ranges and production recipes, and the seeded draws.

* :data:`OTHER_STYLES`, :data:`STYLES` and :data:`TEMPO_RANGES_BPM`; :func:`style_key` normalizes a
  style name, :func:`style_vector` turns a blend into a probability vector over :data:`STYLES`.
* ``COMMON_RECIPE`` and ``RECIPES``: every style's production traits, drawn per seed by :func:`draw_recipe`.
* ``SCALES`` and ``PROGRESSIONS`` (harmony), ``HAT_CELLS`` (hat grooves), ``BASS_MOTIFS`` and
  ``COMP_RHYTHMS`` (the fixed bass lines and chord rhythms of the other styles).
* :func:`rng_stream`: the independent random stream of one purpose of one seed. Every draw of the synth
  comes from one of these, so the order of entries here is part of the output: changing it changes
  the audio.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mvgen.genres import GENRES, genre_key

# --------------------------------------------------------------------------------------------
# Styles

#: Non-house styles: out-of-scope (negative) audio for the sub-genre classifier, which must learn
#: that music like this is none of the house sub-genres. Each is a recipe like the house ones.
OTHER_STYLES: tuple[str, ...] = (
    "drum_and_bass",
    "hardstyle",
    "hip_hop",
    "trap",
    "reggae",
    "dancehall",
    "rock",
    "ambient",
    "pop_ballad",
)

#: Every style the synth renders: the house sub-genres (in GENRES order), then OTHER_STYLES. The
#: order of the truth's profile vectors; house keep their GENRES index, so their random streams too.
STYLES: tuple[str, ...] = GENRES + OTHER_STYLES

#: Tempo range (bpm, inclusive) that an arrangement without a tempo draws from, by style. Ambient has
#: no beat; its tempo only sets the bar length, the time between chord changes (3.4-4.8 s).
TEMPO_RANGES_BPM: dict[str, tuple[int, int]] = {
    "progressive_house": (124, 128),
    "future_house": (124, 128),
    "bass_house": (124, 128),
    "tech_house": (124, 128),
    "deep_house": (118, 122),
    "bigroom": (126, 130),
    "future_rave": (126, 130),
    "slap_house": (120, 126),
    "drum_and_bass": (170, 175),
    "hardstyle": (148, 152),
    "hip_hop": (70, 95),
    "trap": (138, 142),
    "reggae": (70, 80),
    "dancehall": (90, 105),
    "rock": (100, 140),
    "ambient": (50, 70),
    "pop_ballad": (60, 80),
}


def style_key(name: str) -> str:
    """Normalize a style name to its key in :data:`STYLES`: ``"hip-hop"``, ``"Drum and Bass"``, or a
    house sub-genre name as :func:`~mvgen.genres.genre_key` takes it (``"Future House"``, ``"Techno"``).

    Raises ``ValueError`` listing the valid keys when ``name`` is no style.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in OTHER_STYLES:
        return key
    try:
        return genre_key(name)
    except ValueError:
        raise ValueError(f"unknown sub-genre or style {name!r}; valid: {', '.join(STYLES)}") from None


def style_vector(weights: Mapping[str, float]) -> np.ndarray:
    """``{name: weight}`` as a probability vector over :data:`STYLES` (shape ``(17,)``, sums to 1).

    :func:`~mvgen.genres.weights_to_vector` over all styles: weights must be >= 0 with a positive sum.
    """
    vector = np.zeros(len(STYLES), dtype=np.float64)
    for name, weight in weights.items():
        if weight < 0:
            raise ValueError(f"weight of {name!r} must be >= 0, got {weight}")
        vector[STYLES.index(style_key(name))] += weight
    total = vector.sum()
    if total <= 0:
        raise ValueError("genre weights must have a positive sum")
    return vector / total


# --------------------------------------------------------------------------------------------
# Style recipes: (lo, hi) is drawn uniformly, [a, b, ...] is a choice, anything else is fixed.
# Levels are linear amplitudes before the section gains; Hz, s, ms, cents and beats as named.
# Only fixed values may be added to COMMON_RECIPE: a drawn one would shift every house draw after it.

# Drum patterns: one character per 16th of a 4/4 bar, "x" a hit, "o" a ghost note (softer), "." a
# rest; tiled or cut to other metres like the note patterns (see _pattern_steps).
_FOUR_ON_THE_FLOOR = "x...x...x...x..."
_BACKBEAT = "....x.......x..."
HIT_VELOCITY = {"x": 1.0, "o": 0.35}

COMMON_RECIPE = dict(
    drums=True,  # False: the style has no beat at all (ambient): its sections are beatless
    kick_steps=_FOUR_ON_THE_FLOOR,
    snare_steps=_BACKBEAT,  # the clap, snare or rim of "clap"
    hat_fill="none",  # a HAT_CELLS cell replacing the last beat of every second bar (trap rolls)
    bass_sound=None,  # instrument of the bass line when not the one named like its pattern ("bass")
    comp_rhythm="drawn",  # a COMP_RHYTHMS name, or "drawn" for the house chord-hit patterns
    drone_level=0.0,  # a low drone under beatless pads (ambient)
    kick_tuned=False,
    kick_attack_ms=(0.2, 0.6),
    clap_hz=(1000.0, 1800.0),
    hat_hz=(7000.0, 9500.0),
    hat_level=(0.27, 0.39),
    hat_decay_s=(0.02, 0.04),
    swing=0.0,
    perc_level=(0.08, 0.2),
    bass_detune=(6.0, 14.0),
    bass_drive=(1.2, 2.0),
    lead="none",
    lead2="none",
    lead_level=(0.5, 0.65),
    lead_hz=(3000.0, 6000.0),
    lead_detune=(10.0, 25.0),
    comp="none",
    comp_level=(0.224, 0.308),
    comp_tones=3,
    pad="saw",
    pad_hz=(1200.0, 2500.0),
    pad_level=(0.2, 0.26),
    pad_detune=(5.0, 10.0),
    width=(0.5, 0.8),
    curve=(1.5, 2.5),
    mode=["minor"],
)

RECIPES: dict[str, dict] = {
    "deep_house": dict(
        kick_hz=(45.0, 52.0), kick_sweep_hz=(85.0, 120.0), kick_sweep_ms=(22.0, 35.0), kick_decay_s=(0.13, 0.18),
        kick_click=(0.0, 0.05), kick_attack_ms=(1.0, 2.5), kick_drive=(1.0, 1.3), kick_level=(0.8, 0.9),
        clap=["clap", "snap", "rim"], clap_decay_s=(0.1, 0.2), clap_level=(0.44, 0.616),
        hats=["offbeat+16", "offbeat+8"], swing=(0.12, 0.22), perc_level=(0.25, 0.45),
        bass="reese", bass_level=(0.5, 0.62), bass_hz=(220.0, 420.0), bass_detune=(12.0, 25.0), bass_drive=(1.0, 1.4),
        lead=["none", "none", "vocal"], lead_level=(0.25, 0.375),
        comp=["organ", "rhodes", "organ", "pad"], comp_level=(0.22, 0.28), comp_tones=[4, 5],
        pad="warm", pad_hz=(900.0, 1600.0), reverb=(0.32, 0.45), rt60_s=(2.0, 2.8),
        sidechain=(0.2, 0.35), release_beats=(0.45, 0.7), mode=["dorian", "minor"],
    ),
    "progressive_house": dict(
        kick_hz=(48.0, 56.0), kick_sweep_hz=(150.0, 210.0), kick_sweep_ms=(14.0, 22.0), kick_decay_s=(0.1, 0.14),
        kick_click=(0.12, 0.25), kick_drive=(1.2, 1.6), kick_level=(0.85, 0.95),
        clap=["clap", "clap+snare"], clap_decay_s=(0.15, 0.25), clap_level=(0.528, 0.66),
        hats=["offbeat", "offbeat+16"],
        bass="offbeat", bass_level=(0.38, 0.46), bass_hz=(350.0, 700.0),
        lead=["supersaw", "supersaw", "piano"], lead2=["none", "piano"], lead_level=(0.55, 0.7), lead_hz=(4000.0, 8000.0),
        comp=["pad"], comp_level=(0.224, 0.28), comp_tones=[3, 4],
        pad="saw", pad_hz=(1800.0, 3500.0), reverb=(0.32, 0.42), rt60_s=(2.5, 3.4),
        sidechain=(0.55, 0.72), release_beats=(0.75, 0.95), curve=(1.2, 1.8), width=(0.7, 1.0),
        mode=["major", "minor"],
    ),
    "future_house": dict(
        kick_hz=(50.0, 60.0), kick_sweep_hz=(200.0, 300.0), kick_sweep_ms=(9.0, 15.0), kick_decay_s=(0.08, 0.12),
        kick_click=(0.3, 0.5), kick_drive=(1.6, 2.5), kick_level=(0.85, 0.95),
        clap=["clap", "snap"], clap_decay_s=(0.1, 0.16), clap_level=(0.572, 0.704),
        hats=["offbeat", "offbeat+16", "8ths"],
        bass="future", bass_level=(0.4, 0.5), bass_hz=(500.0, 1000.0), fm_ratio=[1.41, 2.0, 3.5, 0.5],
        fm_index=(2.0, 5.0), bend_semis=(-12.0, -5.0),
        lead=["pluck"], lead_level=(0.5, 0.65), lead_hz=(5000.0, 9000.0), pluck_decay_s=(0.12, 0.25),
        comp=["none", "pluck"], comp_level=(0.14, 0.196),
        reverb=(0.16, 0.24), rt60_s=(1.2, 1.8), sidechain=(0.8, 0.92), release_beats=(0.5, 0.7), curve=(2.0, 3.0),
    ),
    "bass_house": dict(
        kick_hz=(48.0, 58.0), kick_sweep_hz=(220.0, 320.0), kick_sweep_ms=(9.0, 14.0), kick_decay_s=(0.09, 0.13),
        kick_click=(0.4, 0.6), kick_drive=(2.5, 4.0), kick_level=(0.9, 1.0),
        clap=["clap+snare", "snare", "clap"], clap_decay_s=(0.1, 0.16), clap_level=(0.66, 0.792),
        hats=["offbeat", "8ths"],
        bass="growl", bass_level=(0.36, 0.44), bass_hz=(400.0, 900.0), fm_ratio=[0.5, 1.0, 1.5, 2.0],
        fm_index=(3.0, 7.0), fold=(2.0, 4.0), bass_drive=(3.0, 5.0), wobble_beats=[0.5, 0.25, 1.0],
        comp="none", pad="dark", pad_hz=(500.0, 1000.0), pad_level=(0.18, 0.24),
        reverb=(0.03, 0.07), rt60_s=(0.6, 1.0), sidechain=(0.4, 0.6), release_beats=(0.3, 0.5),
    ),
    "tech_house": dict(
        kick_hz=(48.0, 56.0), kick_sweep_hz=(160.0, 230.0), kick_sweep_ms=(9.0, 14.0), kick_decay_s=(0.06, 0.09),
        kick_click=(0.2, 0.35), kick_drive=(1.5, 2.2), kick_level=(0.85, 0.95),
        clap=["clap", "rim", "snap"], clap_decay_s=(0.06, 0.12), clap_level=(0.528, 0.66),
        hats=["16ths", "offbeat+16"], swing=(0.1, 0.25), hat_level=(0.3, 0.42), hat_decay_s=(0.012, 0.025),
        perc_level=(0.7, 1.0),
        bass="rolling", bass_level=(0.42, 0.52), bass_hz=(300.0, 700.0), bass_decay_s=(0.06, 0.11),
        comp="none", pad="dark", pad_hz=(500.0, 900.0), pad_level=(0.16, 0.22),
        reverb=(0.03, 0.07), rt60_s=(0.5, 0.9), sidechain=(0.2, 0.35), release_beats=(0.3, 0.5),
    ),
    "bigroom": dict(
        kick_tuned=True, kick_sweep_hz=(260.0, 400.0), kick_sweep_ms=(7.0, 12.0), kick_decay_s=(0.28, 0.42),
        kick_click=(0.5, 0.7), kick_attack_ms=0.0, kick_drive=(2.2, 3.5), kick_level=(0.95, 1.0),
        clap=["clap+snare", "snare"], clap_decay_s=(0.18, 0.3), clap_level=(0.66, 0.792),
        hats=["offbeat"], hat_level=(0.24, 0.33),
        bass="sub", bass_level=(0.1, 0.16),
        lead=["brass"], lead_level=(0.65, 0.8), lead_hz=(6000.0, 9000.0), lead_detune=(8.0, 16.0),
        comp="none", pad="saw", pad_hz=(2000.0, 4000.0), reverb=(0.3, 0.42), rt60_s=(2.4, 3.4),
        sidechain=(0.55, 0.7), release_beats=(0.5, 0.8), roll_level=(1.3, 1.5), mode=["minor", "major"],
    ),
    "future_rave": dict(
        kick_hz=(46.0, 54.0), kick_sweep_hz=(200.0, 300.0), kick_sweep_ms=(10.0, 15.0), kick_decay_s=(0.1, 0.14),
        kick_click=(0.3, 0.5), kick_drive=(2.0, 3.0), kick_level=(0.9, 1.0),
        clap=["clap", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.572, 0.704),
        hats=["offbeat", "offbeat+16"],
        bass="offbeat", bass_level=(0.42, 0.5), bass_hz=(250.0, 500.0), bass_drive=(2.0, 3.0), bass_roll=True,
        lead=["stab"], lead_level=(0.45, 0.6), lead_hz=(1500.0, 3000.0), lead_detune=(20.0, 35.0),
        comp="none", pad="dark", pad_hz=(800.0, 1500.0), width=(0.9, 1.0),
        reverb=(0.2, 0.3), rt60_s=(1.5, 2.2), sidechain=(0.8, 0.92), release_beats=(0.5, 0.7), curve=(2.0, 3.0),
    ),
    "slap_house": dict(
        kick_hz=(42.0, 50.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(18.0, 28.0), kick_decay_s=(0.15, 0.22),
        kick_click=(0.08, 0.18), kick_drive=(1.2, 1.7), kick_level=(0.75, 0.85),
        clap=["clap", "snap"], clap_decay_s=(0.08, 0.14), clap_level=(0.528, 0.66),
        hats=["offbeat", "8ths"], hat_decay_s=(0.012, 0.025),
        bass="slap", bass_level=(0.55, 0.65), bass_hz=(700.0, 1400.0), fm_index=(3.0, 6.0),
        slap_chirp=(3.0, 7.0), bass_decay_s=(0.1, 0.18),
        lead=["vocal", "pluck", "none"], lead_level=(0.35, 0.5), pluck_decay_s=(0.1, 0.2),
        comp=["pad", "none"], comp_level=(0.14, 0.196),
        pad="warm", pad_hz=(1000.0, 2000.0), reverb=(0.15, 0.22), rt60_s=(1.2, 1.8),
        sidechain=(0.5, 0.65), release_beats=(0.4, 0.6),
    ),
    # Out-of-scope styles (OTHER_STYLES): their own drum patterns, mostly without sidechain pumping.
    "drum_and_bass": dict(
        # A two-step break: kick on 1 and the "and" of 3, snare on 2 and 4 (a half-time feel at 170).
        kick_steps=["x.........x.....", "x.x.......x.....", "x.........xx...."],
        snare_steps=["....x.......x...", "....x..o....x..o", "....x.......x.o."],
        kick_hz=(50.0, 58.0), kick_sweep_hz=(180.0, 260.0), kick_sweep_ms=(8.0, 12.0), kick_decay_s=(0.06, 0.09),
        kick_click=(0.3, 0.5), kick_drive=(1.5, 2.5), kick_level=(0.85, 0.95),
        clap=["snare"], clap_decay_s=(0.1, 0.16), clap_hz=(1500.0, 2200.0), clap_level=(0.7, 0.8),
        hats=["16ths"], hat_level=(0.22, 0.3), hat_decay_s=(0.01, 0.02), perc_level=(0.04, 0.1),
        bass="reese", bass_level=(0.5, 0.6), bass_hz=(200.0, 400.0), bass_detune=(15.0, 30.0), bass_drive=(1.5, 2.5),
        lead=["none", "pluck"], lead_level=(0.3, 0.4), pluck_decay_s=(0.15, 0.3),
        comp=["pad", "none"], comp_level=(0.15, 0.2), pad="dark", pad_hz=(600.0, 1200.0),
        reverb=(0.15, 0.25), rt60_s=(1.5, 2.2), sidechain=(0.0, 0.15), release_beats=(0.3, 0.5),
    ),
    "hardstyle": dict(
        # Four on the floor with a long, heavily driven kick whose tail is tuned to the key.
        kick_tuned=True, kick_sweep_hz=(300.0, 450.0), kick_sweep_ms=(6.0, 10.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.5, 0.7), kick_attack_ms=0.0, kick_drive=(6.0, 10.0), kick_level=(0.95, 1.0),
        clap=["clap"], clap_decay_s=(0.12, 0.2), clap_level=(0.55, 0.65),
        hats=["offbeat"], hat_level=(0.2, 0.28),
        bass="reverse", bass_level=(0.4, 0.5), bass_hz=(250.0, 450.0), bass_drive=(3.0, 5.0),
        lead="screech", lead_level=(0.4, 0.5), lead_hz=(3000.0, 5000.0), fm_index=(3.0, 6.0),
        comp="none", pad="saw", pad_hz=(1500.0, 3000.0),
        reverb=(0.2, 0.3), rt60_s=(1.8, 2.6), sidechain=(0.3, 0.5), release_beats=(0.4, 0.6),
    ),
    "hip_hop": dict(
        # Boom-bap: kick on 1 and the "and" of 3 (never on 3 itself), snare on 2 and 4, swung hats.
        kick_steps=["x.........x.....", "x.........x..x..", "x......x..x....."],
        kick_hz=(50.0, 58.0), kick_sweep_hz=(120.0, 180.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.1, 0.2), kick_attack_ms=(0.5, 1.5), kick_drive=(1.3, 2.0), kick_level=(0.9, 1.0),
        clap=["snare", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.6, 0.7),
        hats=["16ths", "8ths"], swing=(0.15, 0.3), hat_level=(0.2, 0.3), hat_decay_s=(0.015, 0.03), perc_level=(0.0, 0.1),
        bass="boombap", bass_sound="rolling", bass_level=(0.45, 0.55), bass_hz=(200.0, 400.0), bass_decay_s=(0.25, 0.45),
        bass_drive=(1.0, 1.4),
        lead=["none", "vocal"], lead_level=(0.2, 0.3),
        comp=["rhodes", "piano"], comp_rhythm=["whole", "halves"], comp_level=(0.22, 0.3), comp_tones=[3, 4],
        pad="warm", pad_hz=(800.0, 1500.0), reverb=(0.1, 0.2), rt60_s=(1.0, 1.6),
        sidechain=0.0, release_beats=0.5, mode=["minor", "dorian"],
    ),
    "trap": dict(
        # Half time: sparse kicks, the clap on beat 3 only, 16th hats rolling into 32nds, a gliding 808.
        kick_steps=["x.........x.....", "x......x..x.....", "x.....x.........", "x..x......x....."],
        snare_steps="........x.......",
        kick_hz=(45.0, 55.0), kick_sweep_hz=(150.0, 220.0), kick_sweep_ms=(10.0, 15.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.2, 0.35), kick_drive=(1.5, 2.5), kick_level=(0.85, 0.95),
        clap=["clap", "clap+snare"], clap_decay_s=(0.12, 0.2), clap_level=(0.65, 0.75),
        hats=["16ths"], hat_fill="32nds", hat_level=(0.25, 0.32), hat_decay_s=(0.01, 0.02), perc_level=0.0,
        bass="808", bass_level=(0.55, 0.65), bass_decay_s=(0.6, 1.0), bass_drive=(1.5, 3.0), glide_s=(0.05, 0.1),
        lead=["pluck", "none", "vocal"], lead_level=(0.3, 0.4), pluck_decay_s=(0.2, 0.4),
        comp=["pad", "none"], comp_level=(0.14, 0.2), pad="dark", pad_hz=(600.0, 1200.0),
        reverb=(0.1, 0.2), rt60_s=(1.2, 2.0), sidechain=0.0, release_beats=0.5,
    ),
    "reggae": dict(
        # One drop: kick and rim/snare together on beat 3 only; a skank chop on every off-beat, louder
        # than the (soft) kick; a round bass that leaves the one empty.
        kick_steps="........x.......", snare_steps="........x.......",
        kick_hz=(55.0, 65.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.12, 0.18),
        kick_click=(0.05, 0.12), kick_attack_ms=(0.5, 1.5), kick_drive=(1.0, 1.3), kick_level=(0.35, 0.45),
        clap=["rim", "snare"], clap_decay_s=(0.08, 0.14), clap_level=(0.4, 0.5),
        hats=["8ths"], hat_level=(0.15, 0.22), perc_level=(0.05, 0.15),
        bass="one_drop", bass_sound="rolling", bass_level=(0.6, 0.7), bass_hz=(250.0, 450.0), bass_decay_s=(0.3, 0.5),
        bass_drive=(1.0, 1.2),
        comp=["skank", "organ"], comp_rhythm="offbeats", comp_level=(0.9, 1.1),
        pad="warm", pad_hz=(900.0, 1600.0), reverb=(0.15, 0.25), rt60_s=(1.2, 1.8),
        sidechain=0.0, release_beats=0.5, mode=["major", "minor"],
    ),
    "dancehall": dict(
        # Dembow: kick on 1 and 3, snare on the 3-3-2 (tresillo) steps after them, off-beat chord stabs.
        kick_steps="x.......x.......", snare_steps="...x..x....x..x.",
        kick_hz=(50.0, 58.0), kick_sweep_hz=(150.0, 220.0), kick_sweep_ms=(10.0, 16.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.15, 0.3), kick_drive=(1.5, 2.2), kick_level=(0.85, 0.95),
        clap=["snare", "rim", "clap"], clap_decay_s=(0.08, 0.14), clap_level=(0.55, 0.65),
        hats=["8ths", "16ths"], hat_level=(0.2, 0.28), perc_level=(0.1, 0.2),
        bass="dembow", bass_sound="rolling", bass_level=(0.5, 0.6), bass_hz=(250.0, 450.0), bass_decay_s=(0.2, 0.35),
        lead=["none", "vocal"], lead_level=(0.25, 0.35),
        comp=["skank", "organ"], comp_rhythm="offbeats", comp_level=(0.3, 0.4),
        pad="warm", reverb=(0.1, 0.2), rt60_s=(1.0, 1.6), sidechain=0.0, release_beats=0.5,
    ),
    "rock": dict(
        # Backbeat: kick on 1 and 3, snare on 2 and 4, 8th hats; driven power chords over a bass in 8ths.
        kick_steps=["x.......x.......", "x.......x.x.....", "x......xx......."],
        kick_hz=(55.0, 65.0), kick_sweep_hz=(120.0, 170.0), kick_sweep_ms=(12.0, 20.0), kick_decay_s=(0.08, 0.12),
        kick_click=(0.2, 0.35), kick_attack_ms=(0.3, 0.8), kick_drive=(1.0, 1.4), kick_level=(0.85, 0.95),
        clap=["snare"], clap_decay_s=(0.12, 0.2), clap_hz=(1200.0, 2000.0), clap_level=(0.7, 0.8),
        hats=["8ths"], hat_hz=(5000.0, 7000.0), hat_level=(0.22, 0.3), hat_decay_s=(0.03, 0.06), perc_level=0.0,
        bass="roots8", bass_sound="rolling", bass_level=(0.45, 0.55), bass_hz=(400.0, 800.0), bass_decay_s=(0.15, 0.25),
        bass_drive=(1.5, 2.5),
        lead=["none", "vocal"], lead_level=(0.3, 0.4),
        comp="power", comp_rhythm=["eighths", "halves"], comp_level=(0.3, 0.4), comp_tones=1,
        comp_hz=(2500.0, 4500.0), comp_drive=(4.0, 8.0),
        pad="saw", reverb=(0.1, 0.18), rt60_s=(1.0, 1.5), sidechain=0.0, release_beats=0.5, mode=["minor", "major"],
    ),
    "ambient": dict(
        # No beat: pads and a drone under slow chords, drenched in a long reverb. The drum values only
        # matter where ambient is the minor partner of a blend with a beat.
        drums=False,
        kick_hz=(50.0, 56.0), kick_sweep_hz=(100.0, 140.0), kick_sweep_ms=(20.0, 30.0), kick_decay_s=(0.12, 0.18),
        kick_click=0.0, kick_drive=1.0, kick_level=(0.5, 0.6),
        clap=["snap"], clap_decay_s=(0.1, 0.2), clap_level=(0.2, 0.3),
        hats=["offbeat"], hat_level=0.0, perc_level=0.0,
        bass="none", bass_level=0.0, drone_level=(0.3, 0.4),
        comp="none", pad=["warm", "saw"], pad_hz=(600.0, 1400.0), pad_level=(0.25, 0.3), pad_detune=(8.0, 15.0),
        width=(0.8, 1.0), reverb=(0.5, 0.7), rt60_s=(3.5, 5.0), sidechain=0.0, release_beats=0.5,
        mode=["major", "dorian", "minor"],
    ),
    "pop_ballad": dict(
        # Slow backbeat played softly (kick on 1 and 3, a quiet clap on 2 and 4), piano chords, a sung lead.
        kick_steps="x.......x.......",
        kick_hz=(52.0, 60.0), kick_sweep_hz=(100.0, 150.0), kick_sweep_ms=(15.0, 25.0), kick_decay_s=(0.1, 0.15),
        kick_click=(0.02, 0.08), kick_attack_ms=(1.0, 2.5), kick_drive=(1.0, 1.2), kick_level=(0.45, 0.55),
        clap=["clap", "snap", "rim"], clap_decay_s=(0.1, 0.2), clap_level=(0.25, 0.35),
        hats=["8ths"], hat_level=(0.12, 0.18), perc_level=(0.04, 0.1),
        bass="ballad", bass_sound="sub", bass_level=(0.3, 0.4),
        lead="vocal", lead_level=(0.35, 0.45),
        comp="piano", comp_rhythm=["halves", "whole"], comp_level=(0.3, 0.4), comp_tones=[3, 4],
        pad="warm", reverb=(0.3, 0.4), rt60_s=(2.0, 2.8), sidechain=(0.0, 0.05), release_beats=0.5, mode=["major"],
    ),
}

SCALES = {
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "major": (0, 2, 4, 5, 7, 9, 11),
}
# Chord roots as scale degrees (0-based), one chord per bar.
PROGRESSIONS = {
    "minor": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2)),
    "dorian": ((0, 3, 0, 3), (0, 6, 3, 4), (0, 1, 3, 0), (0, 5, 3, 6)),
    "major": ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (3, 4, 5, 0)),
}

# Hat cells for one beat: (16th step, open hat, velocity).
HAT_CELLS = {
    "offbeat": ((2, True, 1.0),),
    "offbeat+16": ((0, False, 0.35), (1, False, 0.5), (2, True, 1.0), (3, False, 0.5)),
    "offbeat+8": ((0, False, 0.45), (2, True, 1.0)),
    "8ths": ((0, False, 0.55), (2, False, 1.0)),
    "16ths": ((0, False, 0.65), (1, False, 0.45), (2, False, 1.0), (3, False, 0.5)),
    "32nds": tuple((k / 2, False, 0.5 + 0.5 * k / 7) for k in range(8)),  # a trap roll, swelling over the beat
}


# --------------------------------------------------------------------------------------------
# Fixed patterns of the other styles: bass motifs and chord rhythms (notes as in mvgen.synth.patterns).

# One-bar bass motifs of the other styles, one drawn per bar: (16th step, length in 16ths, semitones
# above the chord root[, glide: semitones away from the pitch that the note slides in from]).
BASS_MOTIFS: dict[str, tuple[tuple[tuple, ...], ...]] = {
    "none": ((),),
    "roots8": (  # rock: the root in 8ths, now and then an octave or a fifth at the end of the bar
        tuple((s, 1.6, 0) for s in range(0, 16, 2)),
        tuple((s, 1.6, 12 if s == 14 else 0) for s in range(0, 16, 2)),
        tuple((s, 1.6, 7 if s >= 12 else 0) for s in range(0, 16, 2)),
    ),
    "one_drop": (  # reggae: rests on the one, lands with the kick on three
        ((2, 2, 0), (6, 2, 0), (8, 3, 7), (12, 3, 12)),
        ((3, 3, 0), (8, 4, 0), (12, 2, 7), (14, 2, 12)),
        ((6, 2, 0), (8, 6, 0), (14, 2, 7)),
    ),
    "boombap": (  # hip hop: with the kicks on 1 and the "and" of 3
        ((0, 6, 0), (10, 4, 0)),
        ((0, 3, 0), (10, 3, 0), (13, 3, 7)),
        ((0, 7, 0), (10, 5, 12)),
    ),
    "808": (  # trap: long booms, some sliding up an octave or down from a fifth
        ((0, 8, 0), (10, 6, 0)),
        ((0, 6, 0), (7, 3, 0, 7), (10, 6, 12, -12)),
        ((0, 10, 0), (10, 6, 0, 5)),
    ),
    "dembow": (  # dancehall: the 3-3-2 of the snare, doubled low
        ((0, 3, 0), (3, 3, 0), (6, 2, 7), (8, 3, 0), (11, 3, 0), (14, 2, 7)),
        ((0, 6, 0), (8, 3, 0), (11, 5, 0)),
    ),
    "reverse": (tuple((s, 1.5, 0) for s in (2, 6, 10, 14)),),  # hardstyle: swelling up to just before every kick
    "ballad": (((0, 15, 0),), ((0, 7, 0), (8, 7, 7)), ((0, 11, 0), (12, 4, 7))),
}

# Fixed chord-hit rhythms of the other styles (recipe "comp_rhythm"): onsets (16th steps), length (16ths).
COMP_RHYTHMS: dict[str, tuple[tuple[int, ...], float]] = {
    "offbeats": ((2, 6, 10, 14), 1.0),  # the reggae / dancehall skank: a short chop on every off-beat
    "eighths": (tuple(range(0, 16, 2)), 1.5),  # rock chugging
    "halves": ((0, 8), 7.5),
    "whole": ((0,), 15.5),
}


# --------------------------------------------------------------------------------------------
# Seeded draws: every random number of the synth comes from a stream of rng_stream.


def rng_stream(seed: int, *stream: int) -> np.random.Generator:
    """An independent generator for one purpose (``stream``) of one seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def draw_recipe(recipe: Mapping, rng: np.random.Generator) -> dict:
    """One draw of a recipe: a ``(lo, hi)`` tuple becomes a uniform float, a list one of its items, anything
    else stays; the draws are taken from ``rng`` in the recipe's order."""
    out = {}
    for name, value in recipe.items():
        if isinstance(value, tuple):
            out[name] = float(rng.uniform(*value))
        elif isinstance(value, list):
            out[name] = value[int(rng.integers(len(value)))]
        else:
            out[name] = value
    return out
