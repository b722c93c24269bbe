"""Instruments and drums of the synth: one note or one hit at a time.

The pitched instruments (basses, leads, chords, pads, drone) are one function each, registered in
:data:`INSTRUMENTS` by the ``kind`` that the recipes name; :func:`play_note` looks the kind up. The drum
sounds (kick, clap/snare/snap/rim, hats, percussion) follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mvgen.synth.dsp import (
    butter_filter,
    drive,
    envelope,
    filter_envelope,
    in_register,
    midi_to_hz,
    mono_bus,
    phase_cycles,
    sweep_filter,
    unison,
    waveform,
)

# --------------------------------------------------------------------------------------------
# Instruments: one note of ``n`` samples (gate + release) at ``f_hz``, as a bus (C, n). Each is a
# function of a Voice, registered in INSTRUMENTS under the kind that the recipes name.


@dataclass(frozen=True)
class Voice:
    """One note to play: the style values ``q``, the pitch ``f_hz`` and ``n`` samples (``gate`` held,
    the rest release) at ``sr``, as a bus of ``channels`` rows; ``t`` is the time (s) of each sample.
    ``bend_semis`` glides into the pitch (future bass, 808), ``beat_s`` sets tempo-synced wobble
    (growl), ``attack_s`` the swell of pads (and drones)."""

    q: dict
    f_hz: float
    n: int
    gate: int
    sr: int
    channels: int
    bend_semis: float
    beat_s: float
    attack_s: float
    t: np.ndarray


# Basses


def _reese(v: Voice) -> np.ndarray:
    """Detuned saws over a sine, low-passed and driven: the reese bass (deep house, drum & bass)."""
    ph = phase_cycles(v.f_hz, v.n, v.sr)
    x = unison(ph, v.q["bass_detune"], 4, 0.4, "saw", v.channels) * 0.7
    x[0] += 0.6 * waveform(ph.astype(np.float32), "sine")
    x = drive(butter_filter(x, "lowpass", v.q["bass_hz"], v.sr, order=4), v.q["bass_drive"])
    return x * envelope(v.n, v.gate, v.sr, 0.008)


def _offbeat(v: Voice) -> np.ndarray:
    """Detuned saws with a filter that closes on each note, over a sine: the off-beat house bass."""
    ph = phase_cycles(v.f_hz, v.n, v.sr)
    x = unison(ph, v.q["bass_detune"], 3, 0.3, "saw", v.channels)
    x = filter_envelope(x, v.sr, v.q["bass_hz"], v.q["bass_hz"] * 4, 0.06)
    x[0] += 0.5 * waveform(ph.astype(np.float32), "sine")
    return drive(x, v.q["bass_drive"]) * envelope(v.n, v.gate, v.sr, 0.003, 0.25, 0.6)


def _future(v: Voice) -> np.ndarray:
    """Metallic FM with a fast pitch glide into the note (the "future" bend)."""
    q, t = v.q, v.t
    bend = 2.0 ** (v.bend_semis / 12.0 * np.exp(-t / 0.045)) if v.bend_semis else None
    ph = phase_cycles(v.f_hz, v.n, v.sr, bend).astype(np.float32)
    index = q["fm_index"] * np.exp(-t / 0.08) + 0.4
    fm = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * q["fm_ratio"] * ph))
    x = filter_envelope(fm + 0.5 * waveform(ph, "square"), v.sr, q["bass_hz"], q["bass_hz"] * 6, 0.05)
    x = drive(x + 0.5 * np.sin(2 * np.pi * ph), q["bass_drive"])
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.002, 0.2, 0.5), v.channels)


def _growl(v: Voice) -> np.ndarray:
    """Folded FM whose index and cutoff wobble in time with the beat (``wobble_beats``): the bass house growl."""
    q, t, sr = v.q, v.t, v.sr
    lfo_hz = 1.0 / (q["wobble_beats"] * v.beat_s)
    ph = phase_cycles(v.f_hz, v.n, sr).astype(np.float32)
    index = q["fm_index"] * (0.6 + 0.4 * np.sin(2 * np.pi * lfo_hz * t))
    x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * q["fm_ratio"] * ph))
    x = np.sin(q["fold"] * (np.pi / 2) * x)  # wavefolder
    x = drive(x + 0.3 * waveform(ph * 1.007, "saw"), q["bass_drive"])
    cutoff = q["bass_hz"] * (6.0 ** (0.5 - 0.5 * np.cos(2 * np.pi * lfo_hz * t)))
    x = sweep_filter(x, cutoff, sr, n_bands=4) + 0.5 * np.sin(2 * np.pi * ph)
    return mono_bus(x * envelope(v.n, v.gate, sr, 0.002), v.channels)


def _rolling(v: Voice) -> np.ndarray:
    """A short, round sine-and-triangle bass that decays (tech house; the bass sound of several other styles)."""
    ph = phase_cycles(v.f_hz, v.n, v.sr).astype(np.float32)
    x = np.sin(2 * np.pi * ph) + 0.3 * waveform(ph, "tri")
    x = butter_filter(drive(x, v.q["bass_drive"]), "lowpass", v.q["bass_hz"], v.sr)
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.001, v.q["bass_decay_s"], 0.0), v.channels)


def _sub(v: Voice) -> np.ndarray:
    """A plain sine sub bass."""
    x = np.sin(2 * np.pi * phase_cycles(v.f_hz, v.n, v.sr).astype(np.float32))
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.005), v.channels)


def _slap(v: Voice) -> np.ndarray:
    """Plucky FM with a downward chirp at the attack: the "slap"."""
    q, t = v.q, v.t
    bend = 2.0 ** (q["slap_chirp"] / 12.0 * np.exp(-t / 0.012))
    ph = phase_cycles(v.f_hz, v.n, v.sr, bend).astype(np.float32)
    index = q["fm_index"] * np.exp(-t / 0.04) + 0.3
    x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * ph))
    x = filter_envelope(x + 0.4 * waveform(ph, "saw"), v.sr, q["bass_hz"] * 0.5, q["bass_hz"] * 4, 0.04)
    x = drive(x + 0.6 * np.sin(2 * np.pi * ph), 1.8)
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.001, q["bass_decay_s"], 0.0), v.channels)


def _808(v: Voice) -> np.ndarray:
    """A long sine boom sliding into its pitch from ``bend_semis`` away, driven for audible harmonics."""
    bend = 2.0 ** (v.bend_semis / 12.0 * np.exp(-v.t / v.q["glide_s"])) if v.bend_semis else None
    x = drive(np.sin(2 * np.pi * phase_cycles(v.f_hz, v.n, v.sr, bend).astype(np.float32)), v.q["bass_drive"])
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.002, v.q["bass_decay_s"], 0.0), v.channels)


def _reverse(v: Voice) -> np.ndarray:
    """Hardstyle reverse bass: a driven tone swelling up over the off-beat (a kick tail played backwards)."""
    ph = phase_cycles(v.f_hz, v.n, v.sr).astype(np.float32)
    x = drive(butter_filter(np.sin(2 * np.pi * ph) + 0.6 * waveform(ph, "saw"), "lowpass", v.q["bass_hz"], v.sr), v.q["bass_drive"])
    return mono_bus(x * envelope(v.n, v.gate, v.sr, v.gate / v.sr) ** 2, v.channels)


# Leads


def _supersaw(v: Voice) -> np.ndarray:
    """Seven detuned saws spread wide, low-passed."""
    x = unison(phase_cycles(v.f_hz, v.n, v.sr), v.q["lead_detune"], 7, v.q["width"], "saw", v.channels)
    x = butter_filter(x, "lowpass", v.q["lead_hz"], v.sr)
    return x * envelope(v.n, v.gate, v.sr, 0.006, 0.4, 0.75)


def _partials(v: Voice, max_partials: int) -> np.ndarray:
    """Harmonic numbers 1, 2, ... of an additive tone, as many as fit under 0.45 ``sr`` (at most ``max_partials``)."""
    n_partials = int(max(1, min(max_partials, 0.45 * v.sr / v.f_hz)))
    return np.arange(1, n_partials + 1, dtype=np.float32)


def _additive(v: Voice, h: np.ndarray, stretch: np.ndarray, amps: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Additive synthesis: partials ``h`` (frequency ratios ``h * stretch``) with amplitudes ``amps``
    that decay at ``rates`` (1/s). Upper partials dying faster is what makes a piano or a pluck."""
    t = v.t
    x = np.zeros(v.n, np.float32)
    for k in range(len(h)):
        x += amps[k] * np.exp(-rates[k] * t) * np.sin((2 * np.pi * v.f_hz * h[k] * stretch[k]) * t + k)
    x = x / np.sum(amps) * 2.0
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.002), v.channels)


def _piano(v: Voice) -> np.ndarray:
    """Additive piano: up to 14 slightly stretched partials, the upper ones dying faster."""
    h = _partials(v, 14)
    return _additive(v, h, np.sqrt(1.0 + 0.0004 * h**2), 1.0 / h**1.1, 1.5 + 0.9 * h)


def _pluck(v: Voice) -> np.ndarray:
    """Additive pluck: up to 24 harmonic partials decaying over ``pluck_decay_s``, the upper ones faster."""
    h = _partials(v, 24)
    return _additive(v, h, np.ones_like(h), 1.0 / h, 1.0 / v.q.get("pluck_decay_s", 0.2) + 4.0 * h)


def _brass(v: Voice) -> np.ndarray:
    """Detuned saws with a small pitch scoop and a filter that opens on each stab."""
    bend = 2.0 ** (-0.6 / 12.0 * np.exp(-v.t / 0.03))
    x = unison(phase_cycles(v.f_hz, v.n, v.sr, bend), v.q["lead_detune"], 5, v.q["width"] * 0.6, "saw", v.channels)
    x = filter_envelope(x, v.sr, v.q["lead_hz"] * 0.3, v.q["lead_hz"], 0.12)
    return drive(x, 1.5) * envelope(v.n, v.gate, v.sr, 0.01, 0.3, 0.7)


def _stab(v: Voice) -> np.ndarray:
    """Seven wide detuned saws, low-passed and driven, short: the rave stab."""
    x = unison(phase_cycles(v.f_hz, v.n, v.sr), v.q["lead_detune"], 7, 1.0, "saw", v.channels)
    x = drive(butter_filter(x, "lowpass", v.q["lead_hz"], v.sr), 2.0)
    return x * envelope(v.n, v.gate, v.sr, 0.003, 0.15, 0.5)


def _vocal(v: Voice) -> np.ndarray:
    """Vowel formants over a buzzy source: a vocal-chop-like timbre."""
    sr = v.sr
    formants = ((800, 1150, 2900), (400, 1700, 2600), (350, 600, 2700), (270, 2140, 2950))[int(v.f_hz) % 4]
    vib = 1.0 + 0.004 * np.sin(2 * np.pi * 5.5 * v.t)
    src = waveform(phase_cycles(v.f_hz, v.n, sr, vib).astype(np.float32), "saw")
    x = sum(g * butter_filter(src, "bandpass", (0.85 * fc, 1.15 * fc), sr) for g, fc in zip((1.0, 0.6, 0.3), formants))
    return mono_bus(2.0 * x * envelope(v.n, v.gate, sr, 0.01, 0.3, 0.6), v.channels)


def _screech(v: Voice) -> np.ndarray:
    """Hardstyle screech: hard-driven FM whose index wobbles (the lead "talks"), with a fast vibrato."""
    t = v.t
    ph = phase_cycles(v.f_hz, v.n, v.sr, 1.0 + 0.01 * np.sin(2 * np.pi * 6.0 * t)).astype(np.float32)
    index = v.q["fm_index"] * (0.7 + 0.3 * np.sin(2 * np.pi * 3.0 * t))
    x = np.sin(2 * np.pi * ph + index * np.sin(2 * np.pi * 2.0 * ph)) + 0.5 * waveform(ph, "saw")
    x = drive(butter_filter(x, "bandpass", (500.0, v.q["lead_hz"]), v.sr), 4.0)
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.005, 0.4, 0.8), v.channels)


# Chords


def _organ(v: Voice) -> np.ndarray:
    """Drawbar organ: sine partials at the drawn registration (``drawbars``), with a Leslie-like tremolo."""
    bars, f_hz, sr = v.q["drawbars"], v.f_hz, v.sr
    ph = phase_cycles(f_hz, v.n, sr).astype(np.float32)
    x = sum(a * np.sin(2 * np.pi * r * ph) for a, r in zip(bars, (0.5, 1, 2, 3, 4, 6, 8)) if r * f_hz < 0.45 * sr)
    x = x / np.sum(bars) * (1.0 + 0.15 * np.sin(2 * np.pi * 6.0 * v.t))  # Leslie-like tremolo
    return mono_bus(x * envelope(v.n, v.gate, sr, 0.004), v.channels)


def _rhodes(v: Voice) -> np.ndarray:
    """Electric piano: FM with a decaying index and a short bell partial."""
    t = v.t
    ph = phase_cycles(v.f_hz, v.n, v.sr).astype(np.float32)
    x = np.sin(2 * np.pi * ph + 1.5 * np.exp(-t / 0.25) * np.sin(2 * np.pi * ph))
    x = x + 0.25 * np.exp(-t / 0.04) * np.sin(2 * np.pi * 7.0 * ph) if 7 * v.f_hz < 0.45 * v.sr else x
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.002, 1.0, 0.3), v.channels)


def _skank(v: Voice) -> np.ndarray:
    """A muted-guitar chop: bright detuned saws in the mid band, gone within a few tens of ms."""
    x = butter_filter(unison(phase_cycles(v.f_hz, v.n, v.sr), 8.0, 3, 0.5, "saw", v.channels), "bandpass", (400.0, 3500.0), v.sr)
    return x * envelope(v.n, v.gate, v.sr, 0.001, 0.06, 0.0)


def _power(v: Voice) -> np.ndarray:
    """Distorted power chord: root, fifth and octave driven together (their intermodulation is the sound)."""
    ph = phase_cycles(v.f_hz, v.n, v.sr)
    x = sum(waveform((ph * r).astype(np.float32), "saw") for r in (1.0, 1.4983, 2.003))
    x = drive(butter_filter(x, "lowpass", v.q["comp_hz"], v.sr), v.q["comp_drive"])
    return mono_bus(x * envelope(v.n, v.gate, v.sr, 0.003, 0.5, 0.7), v.channels)


# Pads and drone


def _pad(v: Voice, shape: str) -> np.ndarray:
    """Pads: detuned and wide, swelling in over ``attack_s``."""
    x = unison(phase_cycles(v.f_hz, v.n, v.sr), v.q["pad_detune"], 5, v.q["width"], shape, v.channels)
    x = butter_filter(x, "lowpass", v.q["pad_hz"], v.sr)
    return x * envelope(v.n, v.gate, v.sr, v.attack_s)


def _saw_pad(v: Voice) -> np.ndarray:
    """A saw pad ("saw"; "dark" is the same pad, duller through its recipe's lower ``pad_hz``)."""
    return _pad(v, "saw")


def _warm_pad(v: Voice) -> np.ndarray:
    """A triangle pad: duller than the saw."""
    return _pad(v, "tri")


def _drone(v: Voice) -> np.ndarray:
    """An octave under the chord root with a faintly beating fifth; it swells in over ``attack_s``."""
    ph = phase_cycles(v.f_hz / 2, v.n, v.sr).astype(np.float32)
    x = np.sin(2 * np.pi * ph) + 0.3 * np.sin(2 * np.pi * 1.502 * ph) + 0.15 * waveform(2 * ph, "tri")
    return mono_bus(x * envelope(v.n, v.gate, v.sr, v.attack_s), v.channels)


#: The instrument table: each ``kind`` a recipe can name (``bass`` or ``bass_sound``, ``lead``,
#: ``lead2``, ``comp``, ``pad``; ``drone`` under beatless pads) and the function that plays one note of it.
INSTRUMENTS: dict[str, Callable[[Voice], np.ndarray]] = {
    # basses
    "reese": _reese,
    "offbeat": _offbeat,
    "future": _future,
    "growl": _growl,
    "rolling": _rolling,
    "sub": _sub,
    "slap": _slap,
    "808": _808,
    "reverse": _reverse,
    # leads (piano and pluck also play chords)
    "supersaw": _supersaw,
    "piano": _piano,
    "pluck": _pluck,
    "brass": _brass,
    "stab": _stab,
    "vocal": _vocal,
    "screech": _screech,
    # chords
    "organ": _organ,
    "rhodes": _rhodes,
    "skank": _skank,
    "power": _power,
    # pads and drone
    "saw": _saw_pad,
    "dark": _saw_pad,
    "warm": _warm_pad,
    "drone": _drone,
}


def play_note(kind: str, q: dict, f_hz: float, n: int, gate: int, sr: int, channels: int, bend_semis: float, beat_s: float, attack_s: float) -> np.ndarray:
    """Instrument ``kind`` (a key of :data:`INSTRUMENTS`) with the style values ``q``; ``bend_semis`` glides into the pitch (future bass, 808),
    ``beat_s`` sets tempo-synced wobble (growl), ``attack_s`` the swell of pads (and drones).

    Raises ``ValueError`` listing the instruments when ``kind`` is none of them.
    """
    instrument = INSTRUMENTS.get(kind)
    if instrument is None:
        raise ValueError(f"unknown instrument {kind!r}; valid: {', '.join(INSTRUMENTS)}")
    t = np.arange(n, dtype=np.float32) / sr
    return instrument(Voice(q, f_hz, n, gate, sr, channels, bend_semis, beat_s, attack_s, t))


# --------------------------------------------------------------------------------------------
# Drums: one hit as a mono array.


def kick_hit(k: dict, sr: int, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    """Kick drum: pitch sweep to a body tone, click transient, drive. Starts at sample 0, ends within the beat."""
    n = int(min(0.03 + 5.0 * k["kick_decay_s"], 0.9 * beat_s) * sr)
    t = np.arange(n, dtype=np.float64) / sr
    f = k["kick_hz"] + (k["kick_sweep_hz"] - k["kick_hz"]) * np.exp(-t / (k["kick_sweep_ms"] / 1000.0))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr).astype(np.float32)
    hold = np.minimum(1.0, np.exp(-(t - 0.02) / k["kick_decay_s"])).astype(np.float32)
    click = butter_filter(rng.standard_normal(n).astype(np.float32), "highpass", 1500.0, sr) * np.exp(-t / 0.002).astype(np.float32)
    x = drive(body * hold + k["kick_click"] * click, k["kick_drive"])
    attack = max(1, int(k["kick_attack_ms"] / 1000.0 * sr))
    x[:attack] *= np.linspace(0.3 if attack > 1 else 1.0, 1.0, attack, dtype=np.float32)
    fade = n // 3  # drive keeps a long tail loud, so it is faded out before the next kick
    x[-fade:] *= np.cos(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
    return x


def clap_hit(kind: str, decay_s: float, hz: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Clap (a few noise bursts and a tail), snare, snap or rimshot. Starts at sample 0."""
    n = int((0.05 + 4.0 * decay_s) * sr)
    t = np.arange(n, dtype=np.float32) / sr
    noise = rng.standard_normal(n).astype(np.float32)
    if kind == "rim":
        x = (np.sin(2 * np.pi * 820 * t) + 0.6 * np.sin(2 * np.pi * 1690 * t)) * np.exp(-t / 0.008)
        return (x + 0.6 * butter_filter(noise, "highpass", 2000.0, sr) * np.exp(-t / 0.004)).astype(np.float32)
    if kind == "snap":
        return butter_filter(noise, "bandpass", (hz * 1.5, hz * 4), sr) * np.exp(-t / 0.03) * 1.4
    clap = np.exp(-t / decay_s) * 0.6
    for i in range(4):  # the hands of a clap do not meet at once
        s = t - i * 0.009
        clap = clap + np.where(s >= 0, np.exp(-np.maximum(s, 0) / 0.004), 0.0)
    x = butter_filter(noise * clap.astype(np.float32), "bandpass", (hz * 0.7, hz * 2.2), sr) * 1.6
    if kind in ("snare", "clap+snare"):
        tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.06)
        snare = tone + butter_filter(noise, "highpass", 1800.0, sr) * np.exp(-t / (decay_s * 0.8))
        x = snare if kind == "snare" else 0.6 * x + 0.6 * snare
    return x.astype(np.float32)


def hat_hit(open_: bool, q: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Closed or open (5x longer) hi-hat: high-passed noise at ``hat_hz`` decaying over ``hat_decay_s``. Starts at sample 0."""
    decay_s = q["hat_decay_s"] * (5.0 if open_ else 1.0)
    n = int(5 * decay_s * sr)
    x = butter_filter(rng.standard_normal(n).astype(np.float32), "highpass", q["hat_hz"], sr)
    return x * np.exp(-np.arange(n, dtype=np.float32) / (decay_s * sr))


def perc_sounds(sr: int, key: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Shaker, rimshot and a conga tuned to the key (tonal percussion off-key would blur the harmony)."""
    t = np.arange(int(0.25 * sr), dtype=np.float32) / sr
    shaker = butter_filter(rng.standard_normal(len(t)).astype(np.float32), "bandpass", (5000.0, 9000.0), sr)
    shaker *= np.minimum(1.0, t / 0.008) * np.exp(-t / 0.035)
    conga_f = midi_to_hz(in_register(key, 60)) * (1.0 + 0.3 * np.exp(-t / 0.01))
    conga = np.sin(2 * np.pi * np.cumsum(conga_f) / sr) * np.exp(-t / 0.07)
    return {"shaker": shaker.astype(np.float32), "conga": conga.astype(np.float32), "rim": clap_hit("rim", 0.02, 0.0, sr, rng)}
