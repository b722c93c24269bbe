"""Do loud claps off the beat grid change the picture? Per style, on real music made outside mvgen.

The track: ``openmsx-modern-motion`` of the real corpus (``real_corpus.py``: OpenTTD's openmsx
"Modern Motion", a 120 bpm MIDI score by its authors, rendered with fluidsynth and FluidR3 GM), whose
snare and clap notes (GM 38, 39, 40) fall on the beats and, 88 of them in the corpus's minute, loud
(velocity >= 90) on the off-beat "and" between two beats. Its beats come from the score.

For each off-grid clap the procedural renderer draws the frames around it (64 px short side, 16:9,
every style alone on every frame, mapped from the corpus WAV's own analysis), and the clap *visibly
changes the picture* when the picture's change from one frame to the next (mean absolute difference)
rises by at least :data:`VISIBLE_LEVELS` 8-bit levels on the clap's frame (or one beside it) over
the change into the frame before. Whatever the clap's sound moves counts
(the snare source and also the bands, loudness, hats, ...). Claps on this track share their instant
with a tambourine on most off-beats, so a counterfactual render without the clap notes keeps most of
the snare source: the picture's response in time is what a viewer sees.

Flicker on the grid: ``--flicker`` also renders the first :data:`FLICKER_S` s of
``simutrans-house-in-the-station`` (125 bpm house from the corpus, claps on 2 and 4) per style and
prints :func:`mvgen.renderers.diffusion.flicker` of the frames (mean change between consecutive frames
away from the beats, in 8-bit levels), the same away from the score's snares and claps too (where no
snare plays, a change is flicker) and the mean change on all frames: a style that modulates by the
snare should change the picture on its claps and stay as calm between them as without.

    python benchmarks/bench_claps.py [--cache ~/.cache/mvgen-bench] [--styles styles/] [--flicker]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: The track and the on-grid control, names in the real corpus.
TRACK = "openmsx-modern-motion"
ON_GRID = "simutrans-house-in-the-station"
#: Snare and clap notes of General MIDI's drum channel (acoustic snare, hand clap, electric snare).
CLAP_NOTES = (38, 39, 40)
DRUM_CHANNEL = 9
#: A clap is off the grid when it is at least this share of a beat from every beat, loud from this velocity.
OFF_GRID_BEATS = 0.15
LOUD_VELOCITY = 90
#: A clap visibly changes the picture when a frame differs by at least this mean absolute 8-bit level
#: (1.2 % of full scale over the whole frame: a 0.25 flash is ~20 levels, a 2 % kick zoom on a busy
#: picture 4-8, the frame-to-frame change of a calm picture ~1-3).
VISIBLE_LEVELS = 3.0
FPS = 30.0
SIZE = 64
FLICKER_S = 30.0
#: Frames this long after a snare or clap note of the score are left out of the "away from snares"
#: flicker: the snare source's release (50 ms, at 30 fps under the floor ~0.35 s later) follows a real hit there.
QUIET_AFTER_S = 0.35


def _piece(cache: Path, name: str) -> tuple[dict, Path]:
    ref = json.loads((cache / "corpus" / f"{name}.beats.json").read_text())
    mids = sorted((cache / "corpus" / "sources").glob(f"*/{Path(ref['source']).name}"))
    if not mids:
        raise SystemExit(f"bench_claps: {name}'s MIDI is not in {cache}/corpus/sources: run benchmarks/real_corpus.py --cache {cache} first")
    return ref, mids[0]


def clap_notes(mid: Path, ref: dict) -> np.ndarray:
    """Times (s, in the excerpt) of every snare and clap note of the score, any velocity, sorted."""
    import mido

    start, end = ref["excerpt_s"]
    times, t = [], 0.0
    for msg in mido.MidiFile(str(mid)):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and msg.channel == DRUM_CHANNEL and msg.note in CLAP_NOTES and start <= t < end:
            times.append(t - start)
    return np.unique(np.round(times, 4))


def off_grid_claps(mid: Path, ref: dict) -> np.ndarray:
    """Times (s, in the excerpt) of the loud clap/snare notes at least :data:`OFF_GRID_BEATS` of a beat from every beat."""
    import mido

    start, end = ref["excerpt_s"]
    beats = np.asarray(ref["beats_s"])
    period = float(np.median(np.diff(beats)))
    times, t = [], 0.0
    for msg in mido.MidiFile(str(mid)):
        t += msg.time
        if msg.type == "note_on" and msg.velocity >= LOUD_VELOCITY and msg.channel == DRUM_CHANNEL and msg.note in CLAP_NOTES and start <= t < end:
            times.append(t - start)
    times = np.asarray(times)
    far = np.min(np.abs(times[:, None] - beats[None, :]), axis=1) >= OFF_GRID_BEATS * period
    return np.unique(np.round(times[far], 4))


def single_style_tables(styles: dict):
    """style key -> a StyleTable whose every label is that style (so every frame is drawn in it alone)."""
    from mvgen.style.blend import StyleTable

    return {key: StyleTable.from_styles({k: style for k in styles}) for key, style in styles.items()}


def _frames(renderer, specs) -> np.ndarray:
    step = 16
    return np.concatenate([renderer.render(specs[i: i + step]).cpu().numpy() for i in range(0, len(specs), step)]).astype(np.float32)


def clap_changes(analysis, table, claps_s: np.ndarray, renderer) -> np.ndarray:
    """Per clap at frame ``k``: how much more the picture changes on the clap than just before it, 8-bit
    levels: the largest ``change(i) - change(i - 1)`` for ``i`` in ``k - 1, k, k + 1``, ``change(i)`` the
    mean absolute difference of frame ``i`` from frame ``i - 1`` (a clap within a few ms of the edge
    between two frames, as a clap on a 16th note at 120 bpm and 30 fps is, may be seen on either)."""
    from mvgen.style.mapper import map_frames

    specs = map_frames(analysis, table, fps=FPS)
    claps = np.round(claps_s * FPS).astype(int)
    claps = claps[(claps >= 3) & (claps + 1 < len(specs))]
    frames = sorted({int(k) + d for k in claps for d in (-3, -2, -1, 0, 1)})
    drawn = dict(zip(frames, _frames(renderer, [specs[k] for k in frames])))

    def change(i):
        return float(np.abs(drawn[i] - drawn[i - 1]).mean())

    return np.array([max(change(i) - change(i - 1) for i in (k - 1, k, k + 1)) for k in claps])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench")
    parser.add_argument("--styles", type=Path, default=None, help="a styles folder (default: the bundled styles)")
    parser.add_argument("--flicker", action="store_true", help="also the flicker on an on-grid house track")
    args = parser.parse_args(argv)

    from mvgen.analysis.track import analyze
    from mvgen.renderers.diffusion import flicker
    from mvgen.renderers.factory import procedural_renderer
    from mvgen.style.mapper import map_frames
    from mvgen.style.styles import load_styles

    ref, mid = _piece(args.cache, TRACK)
    claps = off_grid_claps(mid, ref)
    styles = load_styles(args.styles)
    tables = single_style_tables(styles)
    renderer = procedural_renderer(round(SIZE * 16 / 9), SIZE, 16, detail=1.0, compile=False)
    with tempfile.TemporaryDirectory() as tmp:
        analysis = analyze(args.cache / "corpus" / f"{TRACK}.wav", genre_profile=False, cache_directory=Path(tmp))
    print(f"{TRACK}: {len(claps)} loud off-grid claps (>= {OFF_GRID_BEATS} beat from every beat, velocity >= {LOUD_VELOCITY}); "
          f"visible: the frame-to-frame change (mean absolute, {SIZE} px) rises by >= {VISIBLE_LEVELS} levels on the clap")
    print(f"{'style':<20} {'snare rows':<28} {'visible':>8} {'median':>7} {'p10':>6}")
    shares = []
    for key, table in tables.items():
        change = clap_changes(analysis, table, claps, renderer)
        share = float(np.mean(change >= VISIBLE_LEVELS))
        shares.append(share)
        rows = ", ".join(f"{t} {a:g}" for t, a in styles[key].modulate.get("snare", {}).items()) or "-"
        print(f"{key:<20} {rows:<28} {100 * share:7.0f}% {np.median(change):7.1f} {np.percentile(change, 10):6.1f}")
    print(f"{'mean over styles':<49} {100 * np.mean(shares):7.0f}%")

    if args.flicker:
        ref, mid = _piece(args.cache, ON_GRID)
        wav = args.cache / "corpus" / f"{ON_GRID}.wav"
        with tempfile.TemporaryDirectory() as tmp:
            analysis = analyze(wav, genre_profile=False, cache_directory=Path(tmp))
        notes = clap_notes(mid, ref)
        print(f"\n{ON_GRID}, first {FLICKER_S:g} s, 8-bit levels: flicker (mean change between frames away from the beats), the same away from "
              f"its {int(np.sum(notes < FLICKER_S))} snare/clap notes too ({QUIET_AFTER_S:g} s after each: no event to follow there), mean change")
        import torch

        for key, table in tables.items():
            specs = map_frames(analysis, table, fps=FPS, end_s=FLICKER_S)
            frames = _frames(renderer, specs)
            pulse = np.array([s.beat_pulse for s in specs])
            times = np.array([s.time_s for s in specs])
            since = times[:, None] - notes[None, :]
            near_note = np.any((since >= -0.5 / FPS) & (since < QUIET_AFTER_S), axis=1)
            calm = flicker(torch.from_numpy(frames), pulse) * 255
            quiet = flicker(torch.from_numpy(frames), np.where(near_note, 1.0, pulse)) * 255
            print(f"{key:<20} flicker {calm:5.2f}  away from snares {quiet:5.2f}  mean change {np.abs(np.diff(frames, axis=0)).mean():5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
