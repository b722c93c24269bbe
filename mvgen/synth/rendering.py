"""Rendering: an arrangement to mastered audio, section by section.

:class:`_Track` holds what the sections of one render share (harmony, drawn styles, a note cache);
:func:`_render_section` plays each style's parts (:func:`_music`), the drum grid, grooves and
build-up effects into the mix and reverb send; :func:`_reverb` and :func:`_master` finish it.
:func:`render`, :func:`render_clip` and :func:`write_track` are the public entry points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import signal

from mvgen.media.audio import write_audio
from mvgen.errors import MvgenError
from mvgen.fileio import write_atomic
from mvgen.synth.arrangement import (
    SECTION_LABELS,
    Arrangement,
    SectionSpec,
    SynthEvents,
    SynthTruth,
    TimelineSection,
    build_truth,
    check_range,
    dominant_style,
    draw_bpm_key,
    resolve_arrangement,
    timeline,
)
from mvgen.synth.dsp import butter_filter, in_register, midi_to_hz, scatter_hits, sweep_filter
from mvgen.synth.instruments import clap_hit, hat_hit, kick_hit, perc_sounds, play_note
from mvgen.synth.patterns import DrawnStyle, blend_value, tile_bar
from mvgen.synth.recipes import COMMON_RECIPE, HAT_CELLS, HIT_VELOCITY, PROGRESSIONS, RECIPES, SCALES, STYLES, draw_recipe, rng_stream


SR_RANGE = (8000, 192000)
_PEAK_DBFS = -1.0
_MASTER_DRIVE = 2.0  # tanh drive on the peak-normalized mix: about 6 dB of peak reduction
_TAIL_S = 1.0  # section buffers run on past the section end so kick tails and releases ring out
_MIN_BLEND_WEIGHT = 0.02  # blend partners below this are in the truth but not worth rendering


# --------------------------------------------------------------------------------------------
# Events: what plays when, recorded while rendering (the truth's SynthEvents)


class _Events:
    """Collects the events of a render: hits as ``(time_s, level)``, spans as ``(start_s, end_s)``.

    A section records hits with their sample offsets from the section start and raw gains
    (:meth:`hits`); :meth:`close_section` turns them into absolute times and multiplies in the
    section's loudness, which is applied to the section's buses only at its end.
    """

    def __init__(self, sr: int):
        self.sr = sr
        self.found: dict[str, list] = {name: [] for name in SynthEvents.model_fields}
        self._pending: list[tuple[str, int, float]] = []

    def hits(self, name: str, starts: Sequence[int], gains: Sequence[float], n: int) -> None:
        """Hits at section-relative samples ``starts`` with ``gains``; those :func:`scatter_hits` skips (outside ``[0, n)``) are left out."""
        self._pending.extend((name, int(s), float(g)) for s, g in zip(starts, gains) if 0 <= s < n)

    def span(self, name: str, span: TimelineSection, first_beat: float, end_beat: float) -> None:
        """A span of a section from ``first_beat`` to ``end_beat`` (beats from its start)."""
        self.found[name].append((span.start_s + first_beat * span.beat_s, span.start_s + end_beat * span.beat_s))

    def close_section(self, span: TimelineSection, gain: np.ndarray | float) -> None:
        for name, s, g in self._pending:
            level = g * float(gain[s] if isinstance(gain, np.ndarray) else gain)
            self.found[name].append(((span.start + s) / self.sr, level))
        self._pending = []

    def result(self) -> SynthEvents:
        out = {}
        for name, items in self.found.items():
            items = sorted(items)
            if name in ("risers", "leads", "bass"):  # merge touching or overlapping spans (blends, adjacent sections)
                merged: list[tuple[float, float]] = []
                for a, b in items:
                    if merged and a <= merged[-1][1] + 1e-9:
                        merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                    else:
                        merged.append((a, b))
                items = merged
            out[name] = items
        return SynthEvents(**out)


# --------------------------------------------------------------------------------------------
# Rendering


class _Track:
    """Everything shared by the sections of one render: harmony, styles, note caches."""

    def __init__(self, arrangement: Arrangement, seed: int, sr: int, channels: int):
        self.seed, self.sr, self.channels = seed, sr, channels
        self.key = arrangement.key
        used = {g for s in arrangement.sections for g in s.genres}
        self.styles = {g: DrawnStyle.draw(g, seed) for g in STYLES if g in used}
        dominant = dominant_style(arrangement.sections[0].genres)
        rng = rng_stream(seed, 1)
        mode = draw_recipe(dict(m=RECIPES[dominant].get("mode", COMMON_RECIPE["mode"])), rng)["m"]
        self.scale = SCALES[mode]
        options = PROGRESSIONS[mode]
        prog = list(options[int(rng.integers(len(options)))])
        if rng.random() < 0.5:  # an 8-bar progression: the second half ends differently
            prog = prog + prog[:3] + [int(rng.choice([d for d in range(7) if d != prog[3]]))]
        self.progression = prog
        self.rt60_s = self.styles[dominant].q["rt60_s"]
        self._notes: dict[tuple, np.ndarray] = {}

    def chord(self, bar: int, n_tones: int) -> list[int]:
        """Chord of a bar (from the section start) as semitones above the key root, stacked in thirds."""
        degree = self.progression[bar % len(self.progression)]
        return [self.scale[(degree + 2 * i) % 7] + 12 * ((degree + 2 * i) // 7) for i in range(n_tones)]

    def note(self, kind: str, style: DrawnStyle, midi: float, n: int, gate: int, bend: float, beat_s: float, attack_s: float) -> np.ndarray:
        """A cached rendered note; house music repeats, so most notes are rendered once."""
        key = (kind, style.genre, midi, n, gate, bend, beat_s if kind == "growl" else 0.0, attack_s)
        x = self._notes.get(key)
        if x is None:
            x = play_note(kind, style.q, midi_to_hz(midi), n, gate, self.sr, self.channels, bend, beat_s, attack_s)
            self._notes[key] = x
        return x


def _play(
    track: _Track, span: TimelineSection, bus: np.ndarray, style: DrawnStyle, kind: str, part: str, level: float,
    bars: range | None = None, n_tones: int = 3, events: _Events | None = None,
) -> None:
    """Render one part (``bass``, ``lead``, ``comp``, ``pad``) of a style over a section into ``bus``;
    ``events`` records where a lead or bass plays."""
    patterns = {"bass": style.bass, "lead": style.lead, "comp": style.comp, "pad": None}[part]
    steps = 4 * span.beats_per_bar
    release_s = {"pad": 0.5, "lead": 0.12}.get(part, 0.05)
    bars = bars if bars is not None else range(span.spec.bars)
    if events is not None and part in ("lead", "bass") and len(bars):
        events.span("leads" if part == "lead" else "bass", span, bars[0] * span.beats_per_bar, (bars[-1] + 1) * span.beats_per_bar)
    for bar in bars:
        chord = track.chord(bar, n_tones)
        root_pc = (track.key + chord[0]) % 12
        pattern = [(0, steps, -1, 1.0, 0.0)] if patterns is None else tile_bar(patterns[bar % 2], steps)
        for step, length, pitch, vel, bend in pattern:
            beat = bar * span.beats_per_bar + step / 4.0
            start = span.at(beat)
            gate = span.at(beat + length / 4.0) - start
            n = gate + int(release_s * track.sr)
            # Breakdown and beatless pads swell in; chords under a beat hit on the bar line.
            attack_s = min(0.4, gate / track.sr / 3) if part == "pad" else 0.02
            if part == "bass":
                notes = [in_register(root_pc, 36 if kind == "slap" else 28) + pitch]
            elif pitch < 0:  # whole chord
                low = in_register(root_pc, 48 if part != "lead" else 55)
                notes = [low + c - chord[0] for c in chord] + ([low + 12] if part == "lead" else [])
            else:
                triad = track.chord(bar, 3)
                low = in_register(root_pc, 62)
                notes = [low + triad[pitch % 3] - triad[0] + 12 * (pitch // 3)]
            for midi in notes:
                x = track.note(kind, style, midi, n, gate, bend, span.beat_s, attack_s)
                end = min(start + n, bus.shape[1])
                if end > start:
                    bus[:, start:end] += (level * vel) * x[:, : end - start]


def _pump(n: int, kicks: Sequence[int], beat_n: float, depth: float, release_beats: float, curve: float) -> np.ndarray:
    """Sidechain gain, shape ``(n,)``: ducks by ``depth`` at every kick and recovers over ``release_beats``."""
    gain = np.ones(n, np.float32)
    length = max(2, int(release_beats * beat_n))
    x = np.arange(length, dtype=np.float32) / length
    shape = 1.0 - depth * (1.0 - x) ** curve
    shape[: min(length, 40)] = np.maximum(shape[: min(length, 40)], np.linspace(1.0, 0.0, min(length, 40)))  # no click
    for k in kicks:
        if 0 <= k < n:
            seg = gain[k : k + length]
            np.minimum(seg, shape[: len(seg)], out=seg)
    return gain


def _label_gain(label: str, n: int, n_section: int) -> np.ndarray | float:
    """Section loudness over ``n`` samples: drops full, intro, build-up and outro lower, breakdowns lowest."""
    if label == "drop":
        return 1.0
    if label in ("intro", "breakdown"):
        return 0.5
    x = np.minimum(np.arange(n, dtype=np.float32) / max(n_section, 1), 1.0)
    if label == "build-up":
        return 0.5 + 0.3 * x
    return 0.55 * np.clip(2.0 - 2.0 * x, 0.0, 1.0)  # outro: hold, then fade out over the second half


def _pattern_steps(pattern: str, steps_per_bar: int) -> list[tuple[int, float]]:
    """``(16th step, velocity)`` of the hits of a drum pattern string, tiled or cut to ``steps_per_bar``."""
    return [
        (offset + i, HIT_VELOCITY[c])
        for offset in range(0, steps_per_bar, len(pattern))
        for i, c in enumerate(pattern)
        if c != "." and offset + i < steps_per_bar
    ]


Hits = list[tuple[float, float]]  # (position in beats from the section start, velocity)


def _drum_grid(span: TimelineSection, q: Mapping) -> tuple[Hits, Hits]:
    """Kick and clap (snare, rim) hits of a section: one grid for every style of a blend, from the recipe
    ``q`` of the dominant one (house: four on the floor, the clap on 2 and 4)."""
    spec, bpb = span.spec, span.beats_per_bar
    if not span.drums or spec.label == "breakdown":
        return [], []
    if spec.halftime:  # any style: the kick on the one, the clap halfway through the bar
        kick_steps, clap_steps = [(0, 1.0)], [(4 * (bpb // 2), 1.0)]
    else:
        kick_steps, clap_steps = _pattern_steps(q["kick_steps"], 4 * bpb), _pattern_steps(q["snare_steps"], 4 * bpb)
    kicks = [(bar * bpb + step / 4, v) for bar in range(spec.bars) for step, v in kick_steps]
    claps = [(bar * bpb + step / 4, v) for bar in range(spec.bars) for step, v in clap_steps]
    # Build-ups lose the kick halfway and trade the clap for a snare roll; intros bring the clap in
    # halfway, outros drop it halfway.
    half = span.n_beats / 2
    if spec.label == "build-up":
        kicks, claps = [h for h in kicks if h[0] < half], []
    elif spec.label == "intro":
        claps = [h for h in claps if h[0] >= half]
    elif spec.label == "outro":
        claps = [h for h in claps if h[0] < half]
    return kicks, claps


def _music(track: _Track, span: TimelineSection, style: DrawnStyle, n: int, events: _Events | None = None) -> np.ndarray:
    """Bass, lead, chords and pads of one style over a section, bus (C, n), before sidechain; ``events`` records lead and bass spans."""
    q, label, bars = style.q, span.spec.label, span.spec.bars
    first_half, second_half = range(0, max(1, bars // 2)), range(bars // 2, bars)
    part = np.zeros((track.channels, n), np.float32)
    bass = q["bass_sound"] or q["bass"]

    def play(kind: str, role: str, level: float, **kw) -> None:
        _play(track, span, part, style, kind, role, level, events=events, **kw)

    if not span.drums:
        play(q["pad"], "pad", q["pad_level"] * 1.3, n_tones=4)
        if q["drone_level"] > 0:
            play("drone", "pad", q["drone_level"], n_tones=1)
    elif label == "breakdown":
        play(q["pad"], "pad", q["pad_level"] * 2.0, n_tones=4)
        if q["lead"] != "none":
            play(q["lead"], "lead", q["lead_level"] * 1.2)
        else:  # without a lead, the bass comes back, filtered, under the pad
            low = np.zeros_like(part)
            _play(track, span, low, style, bass, "bass", q["bass_level"] * 0.5, bars=second_half, events=events)
            part += butter_filter(low, "lowpass", 350.0, track.sr)
        if q["comp"] not in ("none", "pad"):
            play(q["comp"], "comp", q["comp_level"] * 0.8, n_tones=q["comp_tones"])
    else:
        if label in ("intro", "outro", "drop"):
            play(bass, "bass", q["bass_level"], bars={"intro": second_half, "outro": first_half}.get(label))
        if label in ("build-up", "drop") and q["lead"] != "none":
            play(q["lead"], "lead", q["lead_level"])
            if q["lead2"] != "none":  # a second instrument doubling the melody
                play(q["lead2"], "lead", q["lead_level"] * 0.5)
        if q["comp"] != "none":
            play(q["pad"] if q["comp"] == "pad" else q["comp"], "comp", q["comp_level"], n_tones=q["comp_tones"])
        elif label in ("intro", "build-up"):
            play(q["pad"], "pad", q["pad_level"] * 0.6, n_tones=4)
    return part


def _render_section(track: _Track, span: TimelineSection, mix: np.ndarray, send: np.ndarray, events: _Events) -> None:
    """Render one section into the track buses ``mix`` (C, n) and ``send`` (n,) (the reverb send); record its ``events``."""
    sr, spec, label = track.sr, span.spec, span.spec.label
    n = span.n + int(_TAIL_S * sr)
    rng = rng_stream(track.seed, 3, span.index)
    weights = {g: w for g, w in spec.genres.items() if w >= _MIN_BLEND_WEIGHT}
    styles = [track.styles[g] for g in weights]
    norm = math.sqrt(sum(w * w for w in weights.values()))
    amps = [w / norm for w in weights.values()]  # equal loudness for any blend
    lead_style = styles[int(np.argmax(amps))]
    kick_hits, clap_hits = _drum_grid(span, lead_style.q)
    kicks = [span.at(b) for b, _ in kick_hits]

    music = np.zeros((track.channels, n), np.float32)
    kit = np.zeros_like(music)
    wet = np.zeros(n, np.float32)
    for style, amp in zip(styles, amps):
        part = _music(track, span, style, n, events)
        if span.drums:  # sidechain; breakdowns pump gently on the silent beat
            pump_at = kicks or [span.at(b) for b in range(span.n_beats)]
            depth = style.q["sidechain"] * (1.0 if kicks else 0.35)
            if depth > 0:  # most non-house styles do not pump
                part *= _pump(n, pump_at, span.beat_s * sr, depth, style.q["release_beats"], style.q["curve"])
            _grooves(track, span, kit, style, amp, rng, events)
        music += amp * part
        wet += amp * style.q["reverb"] * part[0]

    # Filtered intro, filter opening through the build-up, closing at the end of the outro.
    sweep = {"intro": (250.0, 2500.0), "build-up": (400.0, 16000.0), "outro": (16000.0, 600.0)}.get(label)
    if sweep is not None and span.drums:
        x = np.minimum(np.arange(n, dtype=np.float32) / span.n, 1.0)
        x = {"build-up": x**2, "outro": np.clip(2.0 * x - 1.0, 0.0, 1.0)}.get(label, x)
        music = sweep_filter(music, sweep[0] * (sweep[1] / sweep[0]) ** x, sr)

    if span.drums:
        drum_rng = rng_stream(track.seed, 5, span.index)
        kick = {name: blend_value(styles, amps, name, log=name.endswith("hz")) for name in _KICK_PARAMS}
        kick["kick_hz"] = _kick_hz(track, styles, amps)
        scatter_hits(kit, kick_hit(kick, sr, span.beat_s, drum_rng) * kick["kick_level"], kicks, [v for _, v in kick_hits])
        events.hits("kicks", kicks, [kick["kick_level"] * v for _, v in kick_hits], n)
        clap = clap_hit(lead_style.q["clap"], blend_value(styles, amps, "clap_decay_s"), blend_value(styles, amps, "clap_hz", log=True), sr, drum_rng)
        clap_at, clap_level, reverb = [span.at(b) for b, _ in clap_hits], blend_value(styles, amps, "clap_level"), blend_value(styles, amps, "reverb")
        scatter_hits(kit, clap, clap_at, [clap_level * v for _, v in clap_hits])
        scatter_hits(wet, clap, clap_at, [clap_level * v * reverb for _, v in clap_hits])
        events.hits("claps", clap_at, [clap_level * v for _, v in clap_hits], n)
        if spec.extra_snares_beats:  # an empty list adds nothing, so arrangements without keep their audio
            extra_at = [span.at(b) for b in spec.extra_snares_beats]
            scatter_hits(kit, clap, extra_at, [clap_level] * len(extra_at))
            scatter_hits(wet, clap, extra_at, [clap_level * reverb] * len(extra_at))
            events.hits("extra_snares", extra_at, [clap_level] * len(extra_at), n)
        if label == "build-up":
            _build_fx(track, span, kit, wet, clap, lead_style, rng, events)
        if label == "drop":  # a crash on the first downbeat of every 8-bar phrase
            crash = butter_filter(drum_rng.standard_normal(int(2.0 * sr)).astype(np.float32), "highpass", 4000.0, sr)
            crash *= np.exp(-np.arange(len(crash), dtype=np.float32) / (0.5 * sr))
            phrases = range(0, spec.bars, 8)
            crash_at, crash_gains = [span.at(bar * span.beats_per_bar) for bar in phrases], [0.25 if bar == 0 else 0.12 for bar in phrases]
            scatter_hits(kit, crash, crash_at, crash_gains)
            events.hits("crashes", crash_at, crash_gains, n)

    gain = _label_gain(label, n, span.n)
    events.close_section(span, gain)
    end = min(span.start + n, mix.shape[1])
    mix[:, span.start : end] += ((music + kit) * gain)[:, : end - span.start]
    send[span.start : end] += (wet * gain)[: end - span.start]


_KICK_PARAMS = ("kick_sweep_hz", "kick_sweep_ms", "kick_decay_s", "kick_click", "kick_attack_ms", "kick_drive", "kick_level")


def _kick_hz(track: _Track, styles: Sequence[DrawnStyle], amps: Sequence[float]) -> float:
    """Kick body pitch: bigroom and hardstyle tune their long kick tail to the key root (F1..E2, 44-82 Hz), others draw it."""
    tuned = midi_to_hz(in_register(track.key, 29))
    values = [tuned if s.q["kick_tuned"] else s.q["kick_hz"] for s in styles]
    w = np.asarray(amps) / np.sum(amps)
    return float(np.exp(np.sum(w * np.log(values))))


def _grooves(track: _Track, span: TimelineSection, kit: np.ndarray, style: DrawnStyle, amp: float, rng: np.random.Generator, events: _Events) -> None:
    """Hats and percussion of one style over a section (swung 16ths where it swings), into ``kit``; recorded in ``events``."""
    q, sr, bpb, label = style.q, track.sr, span.beats_per_bar, span.spec.label
    hat_rng = rng_stream(track.seed, 6, span.index, STYLES.index(style.genre))
    closed, open_ = hat_hit(False, q, sr, hat_rng), hat_hit(True, q, sr, hat_rng)
    perc = perc_sounds(sr, track.key, hat_rng)
    n_beats = span.n_beats
    last = n_beats if label != "outro" else int(n_beats * 0.75)

    def step_sample(beat: int, step: float) -> int:
        swing = q["swing"] if int(step) % 2 == 1 else 0.0
        return span.at(beat + (step + swing) / 4.0)

    cells = HAT_CELLS[q["hats"]]
    fill = HAT_CELLS.get(q["hat_fill"])  # replaces the last beat of every second bar
    for is_open in (False, True):
        starts, gains, pans = [], [], []
        for beat in range(last):
            if label == "intro" and beat < n_beats // 4 and is_open:
                continue  # intros start on closed hats only
            for step, o, vel in fill if fill and beat % (2 * bpb) == 2 * bpb - 1 else cells:
                if o == is_open:
                    starts.append(step_sample(beat, step))
                    gains.append(amp * q["hat_level"] * vel * float(rng.uniform(0.85, 1.0)))
                    pans.append(0.3 * (1 if step % 2 else -1))
        scatter_hits(kit, open_ if is_open else closed, starts, gains, pans)
        events.hits("hats_open" if is_open else "hats_closed", starts, gains, kit.shape[1])

    level = amp * q["perc_level"] * (0.6 if label in ("intro", "outro") else 1.0)
    steps = 4 * bpb
    shakers = [step_sample(b, s) for b in range(last) for s in range(4)]
    shaker_gains = [0.12 * level * (1.0 if i % 2 else 0.6) for i in range(len(shakers))]
    scatter_hits(kit, perc["shaker"], shakers, shaker_gains, [0.5] * len(shakers))
    events.hits("shakers", shakers, shaker_gains, kit.shape[1])
    if q["perc_level"] >= 0.25:
        rims = [step_sample(bar * bpb + s // 4, s % 4) for bar in range(last // bpb) for s in style.rims if s < steps]
        scatter_hits(kit, perc["rim"], rims, [0.25 * level] * len(rims), [-0.4] * len(rims))
        events.hits("rims", rims, [0.25 * level] * len(rims), kit.shape[1])
        congas = [step_sample(bar * bpb + s // 4, s % 4) for bar in range(last // bpb) for s in style.congas if s < steps]
        scatter_hits(kit, perc["conga"], congas, [0.3 * level] * len(congas), [0.4] * len(congas))
        events.hits("congas", congas, [0.3 * level] * len(congas), kit.shape[1])


def _build_fx(track: _Track, span: TimelineSection, kit: np.ndarray, send: np.ndarray, snare: np.ndarray, style: DrawnStyle, rng: np.random.Generator, events: _Events) -> None:
    """Snare roll accelerating from quarters to 32nds, and a rising filtered-noise riser; recorded in ``events``."""
    sr, n_beats = track.sr, span.n_beats
    positions, beat = [], 0.0
    while beat < n_beats:
        x = beat / n_beats
        positions.append(beat)
        beat += 1.0 if x < 0.5 else 0.5 if x < 0.75 else 0.25 if x < 0.875 else 0.125
    roll = style.q.get("roll_level", 1.0) * 0.32
    starts = [span.at(b) for b in positions]
    gains = [roll * (0.25 + 0.75 * (b / n_beats) ** 1.5) for b in positions]
    scatter_hits(kit, snare, starts, gains)
    scatter_hits(send, snare, starts, [0.3 * g for g in gains])
    events.hits("snare_rolls", starts, gains, kit.shape[1])
    events.span("risers", span, 0.0, n_beats)
    n = span.n
    x = np.arange(n, dtype=np.float32) / n
    noise = rng.standard_normal((kit.shape[0], n)).astype(np.float32)
    riser = sweep_filter(noise, 300.0 * (40.0 ** x), sr, kind="lowpass", n_bands=5) * (0.12 * x**2)
    kit[:, :n] += riser


def _reverb(send: np.ndarray, rt60_s: float, sr: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Convolution reverb of the send bus, shape ``(C, n)``; convolved at <= 24 kHz (the tail is dark anyway)."""
    factor = math.ceil(sr / 24000)
    rate = sr // factor
    n_ir = int(min(rt60_s, 2.5) * rate)
    t = np.arange(n_ir, dtype=np.float32) / rate
    noise = rng.standard_normal((2, n_ir)).astype(np.float32)
    ir = butter_filter(butter_filter(noise, "lowpass", 5000.0, rate), "highpass", 200.0, rate) * np.exp(-6.9 * t / rt60_s)
    ir[:, : int(0.012 * rate)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir[0] ** 2))
    bank = np.stack([(ir[0] + ir[1]) / 2, (ir[0] - ir[1]) / 2])[:channels]
    x = signal.resample_poly(send, 1, factor).astype(np.float32) if factor > 1 else send
    wet = np.stack([signal.oaconvolve(x, h)[: len(x)] for h in bank]).astype(np.float32)
    if factor > 1:
        wet = signal.resample_poly(wet, factor, 1, axis=1)[:, : len(send)].astype(np.float32)
    return wet


def _master(mid_side: np.ndarray) -> np.ndarray:
    """Mid[/side] bus to mono ``(1, n)`` or left/right ``(2, n)``, soft-clipped like a mastering limiter, peak at -1 dBFS."""
    out = mid_side if len(mid_side) == 1 else np.stack([mid_side[0] + mid_side[1], mid_side[0] - mid_side[1]])
    out = out / max(float(np.max(np.abs(out))), 1e-9)
    out = np.tanh(_MASTER_DRIVE * out)
    return (out * np.float32(10.0 ** (_PEAK_DBFS / 20.0) / max(float(np.max(np.abs(out))), 1e-9))).astype(np.float32)


def _render_audio(arrangement: Arrangement, seed: int, sr: int, channels: int, spans: list[TimelineSection]) -> tuple[np.ndarray, SynthEvents]:
    """The mastered audio ``(C, n)`` of a resolved arrangement, mono (C = 1) or left/right (C = 2), and its events."""
    track = _Track(arrangement, seed, sr, channels)
    events = _Events(sr)
    n_total = spans[-1].start + spans[-1].n
    mix = np.zeros((channels, n_total + int(_TAIL_S * sr)), np.float32)
    send = np.zeros(mix.shape[1], np.float32)
    for span in spans:
        _render_section(track, span, mix, send, events)
    mix += 0.6 * _reverb(send, track.rt60_s, sr, channels, rng_stream(seed, 4))
    return _master(mix[:, :n_total]), events.result()


def _check_seed_sr(seed: int, sr: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(sr, (int, np.integer)) or not SR_RANGE[0] <= sr <= SR_RANGE[1]:
        raise ValueError(f"sr must be in {SR_RANGE[0]}..{SR_RANGE[1]}, got {sr}")


def render(arrangement: Arrangement, seed: int, sr: int = 44100, stereo: bool = True) -> tuple[np.ndarray, SynthTruth]:
    """Render an arrangement: float32 audio peaking at -1 dBFS, shape ``(2, n)`` (stereo) or ``(n,)``, and its truth.

    A ``bpm`` or ``key`` left as None is drawn with ``seed`` (tempo from the first section's
    dominant style's range); the truth's ``arrangement`` has them filled in.
    """
    _check_seed_sr(seed, sr)
    arrangement = resolve_arrangement(arrangement, seed)
    spans = timeline(arrangement, sr)
    audio, events = _render_audio(arrangement, seed, sr, 2 if stereo else 1, spans)
    audio = audio if stereo else audio[0]
    return audio, build_truth(arrangement, seed, sr, spans, audio.shape[-1], events)


def render_clip(genres: Mapping[str, float] | str, seed: int, sr: int = 22050, duration_s: float = 8.0, label: str = "drop") -> tuple[np.ndarray, SynthTruth]:
    """A short mono clip of one section (default a drop), shape ``(round(duration_s * sr),)``, for classifier training.

    ``genres`` is a blend ``{name: weight}`` or one name, of :data:`STYLES` (house sub-genres and the
    out-of-scope :data:`OTHER_STYLES`). The section starts on a downbeat at 0 s and
    is cut at ``duration_s`` (0.5..120 s); tempo and key are drawn with ``seed``.
    """
    _check_seed_sr(seed, sr)
    genres = {genres: 1.0} if isinstance(genres, str) else genres
    check_range("duration_s", duration_s, 0.5, 120.0)
    if label not in SECTION_LABELS:
        raise ValueError(f"label must be one of {', '.join(SECTION_LABELS)}, got {label!r}")
    bpm, key = draw_bpm_key(genres, seed)
    bars = math.ceil(duration_s / (4 * 60.0 / bpm))
    arrangement = Arrangement(sections=[SectionSpec(label=label, bars=bars, genres=dict(genres))], bpm=bpm, key=key)
    spans = timeline(arrangement, sr)
    n = int(round(duration_s * sr))
    audio, events = _render_audio(arrangement, seed, sr, 1, spans)
    return audio[0, :n], build_truth(arrangement, seed, sr, spans, n, events)


def write_track(path: str | Path, audio: np.ndarray, truth: SynthTruth) -> Path:
    """Write ``audio`` ((n,) or (2, n), format from the suffix: .wav/.flac/.ogg) and its truth as ``path.with_suffix('.json')``.

    The audio goes through :func:`mvgen.media.audio.write_audio` (16-bit PCM in WAV and FLAC), the JSON
    sidecar through :func:`mvgen.fileio.write_atomic`: a reader never sees half a file. Returns the
    sidecar path. Raises :class:`MvgenError` (:class:`~mvgen.media.audio.AudioError` for the audio) naming
    the file that cannot be written.
    """
    path = Path(path)
    sidecar = path.with_suffix(".json")
    write_audio(path, np.asarray(audio, dtype=np.float32), truth.sr)
    try:
        write_atomic(sidecar, json.dumps(truth.model_dump(mode="json"), indent=1) + "\n")
    except OSError as exc:
        raise MvgenError(f"cannot write: {exc.strerror or exc}", sidecar) from None
    return sidecar
