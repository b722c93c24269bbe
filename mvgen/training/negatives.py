"""Non-music audio ("negatives") for the out-of-scope class of the genre classifier and for the signal gate.

Every generator is seeded and returns mono float32 audio of ``round(duration_s * sr)`` samples at a
random level (peak below full scale). Entry point: :func:`negative_clip`; the kinds are
:data:`NEGATIVE_KINDS`:

silence
    digital zero, or near-silent white hiss at -80 to -66 dBFS (RMS).
tone
    one steady sine, square or sawtooth (band-limited, additive) at a random pitch of 40-2000 Hz.
sweep
    a logarithmic sine sweep over at least two octaves between 30 Hz and 10 kHz, up or down.
drone
    two to five sustained, slightly detuned partials of a low note, beating slowly (0.05-1.5 Hz).
noise
    white, pink, brown or band-limited (band-pass) Gaussian noise, stationary.
speech
    a single voice of ``espeak-ng`` reading sentences from :data:`SENTENCES` at a random voice,
    speed and pitch. Needs the ``espeak-ng`` program; without it :func:`speech` raises
    :class:`~mvgen.errors.MvgenError` (see :func:`espeak_available`).

Levels (RMS) are drawn from :data:`LEVEL_DBFS` for every kind but silence.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mvgen.errors import MvgenError

NEGATIVE_KINDS: tuple[str, ...] = ("silence", "tone", "sweep", "drone", "noise", "speech")
#: RMS level range (dBFS, 0 dB = full-scale sine) of every kind but silence.
LEVEL_DBFS = (-42.0, -12.0)
#: RMS level range (dBFS) of the near-silent hiss variant of ``silence``.
HISS_DBFS = (-80.0, -66.0)

#: Harmless sentences for :func:`speech`, by espeak-ng language; voices read their own language's.
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The weather will be mild tomorrow, with a light breeze in the afternoon.",
        "Please remember to water the plants on the balcony before you leave.",
        "The library opens at nine and closes at six on weekdays.",
        "A cup of tea and a good book make a quiet evening.",
        "The train to the coast leaves from platform four every hour.",
        "Our neighbours planted apple trees along the garden fence last spring.",
        "Could you tell me the way to the nearest post office?",
        "The children built a small boat out of wood and painted it blue.",
        "Fresh bread is baked every morning in the shop around the corner.",
        "The museum has a new exhibition about old maps and sailing ships.",
    ),
    "de": (
        "Morgen wird das Wetter freundlich und etwas wärmer als heute.",
        "Der Zug nach Hamburg fährt jede Stunde von Gleis drei ab.",
        "Im Garten blühen jetzt die ersten Tulpen und Narzissen.",
        "Bitte vergiss nicht, die Blumen auf dem Balkon zu gießen.",
        "Die Bibliothek ist montags bis freitags von neun bis sechs geöffnet.",
    ),
    "fr": (
        "Demain, le temps sera doux avec un peu de vent l'après-midi.",
        "Le train pour la mer part toutes les heures du quai numéro quatre.",
        "Les enfants ont construit un petit bateau en bois peint en bleu.",
        "La boulangerie du coin fait du pain frais chaque matin.",
        "Le musée présente une nouvelle exposition sur les cartes anciennes.",
    ),
    "es": (
        "Mañana hará buen tiempo, con un poco de viento por la tarde.",
        "El tren a la costa sale cada hora desde el andén cuatro.",
        "La biblioteca abre a las nueve y cierra a las seis.",
        "Los niños pintaron de azul el pequeño barco de madera.",
    ),
}
#: espeak-ng voices (language[+variant]) drawn by :func:`speech`.
VOICES: tuple[str, ...] = ("en", "en-us", "en+f3", "en+m3", "en-us+f2", "de", "de+f4", "fr", "fr+m2", "es", "es+f1")


def _rng(seed: int, kind: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), NEGATIVE_KINDS.index(kind), 0x6E6567])


def _n_samples(sr: int, duration_s: float) -> int:
    if sr <= 0 or duration_s <= 0:
        raise ValueError(f"sr and duration_s must be positive, got sr={sr}, duration_s={duration_s}")
    return int(round(duration_s * sr))


def _at_level(x: np.ndarray, rng: np.random.Generator, level_dbfs: tuple[float, float] = LEVEL_DBFS) -> np.ndarray:
    """Scale ``x`` to an RMS drawn from ``level_dbfs`` (dB re a full-scale sine), peak kept below 0.99."""
    x = np.asarray(x, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    if rms <= 0:
        return x.astype(np.float32)
    target = np.sqrt(0.5) * 10.0 ** (rng.uniform(*level_dbfs) / 20.0)
    x = x * (target / rms)
    peak = float(np.max(np.abs(x)))
    if peak > 0.99:
        x *= 0.99 / peak
    return x.astype(np.float32)


def silence(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """Digital zero (half of the seeds) or white hiss at -80 to -66 dBFS."""
    rng = _rng(seed, "silence")
    n = _n_samples(sr, duration_s)
    if rng.random() < 0.5:
        return np.zeros(n, dtype=np.float32)
    return _at_level(rng.standard_normal(n), rng, HISS_DBFS)


def _additive(phase: np.ndarray, f0_hz: float, sr: int, shape: str) -> np.ndarray:
    """Band-limited sine/square/saw from the phase (cycles) of a fundamental at ``f0_hz``."""
    if shape == "sine":
        return np.sin(2 * np.pi * phase)
    n_harm = max(1, int((0.45 * sr) // f0_hz))
    out = np.zeros_like(phase)
    for k in range(1, min(n_harm, 200) + 1):
        if shape == "square" and k % 2 == 0:
            continue
        out += np.sin(2 * np.pi * k * phase) / k
    return out


def tone(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """A steady sine, square or sawtooth at 40-2000 Hz (log-uniform)."""
    rng = _rng(seed, "tone")
    n = _n_samples(sr, duration_s)
    shape = str(rng.choice(["sine", "square", "saw"]))
    f0 = float(np.exp(rng.uniform(np.log(40.0), np.log(min(2000.0, 0.4 * sr)))))
    phase = f0 * np.arange(n) / sr + rng.random()
    return _at_level(_additive(phase, f0, sr, shape), rng)


def sweep(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """A log sine sweep between 30 Hz and min(10 kHz, 0.45 sr), over at least two octaves, up or down."""
    rng = _rng(seed, "sweep")
    n = _n_samples(sr, duration_s)
    top = min(10000.0, 0.45 * sr)
    lo = float(np.exp(rng.uniform(np.log(30.0), np.log(top / 4))))
    hi = float(np.exp(rng.uniform(np.log(lo * 4), np.log(top))))
    f_start, f_end = (lo, hi) if rng.random() < 0.5 else (hi, lo)
    t = np.arange(n) / sr
    dur = n / sr
    rate = np.log(f_end / f_start) / dur
    phase = f_start * (np.exp(rate * t) - 1.0) / rate  # cycles
    return _at_level(np.sin(2 * np.pi * phase), rng)


def drone(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """Two to five sustained partials of a 40-400 Hz note, each detuned so that pairs beat at 0.05-1.5 Hz."""
    rng = _rng(seed, "drone")
    n = _n_samples(sr, duration_s)
    t = np.arange(n) / sr
    f0 = float(np.exp(rng.uniform(np.log(40.0), np.log(400.0))))
    out = np.zeros(n)
    for k in rng.choice(np.arange(1, 9), size=int(rng.integers(2, 6)), replace=False):
        for voice in range(2):  # each partial twice, slightly apart: slow beating
            hz = k * f0 + (voice * rng.uniform(0.05, 1.5))
            if hz < 0.45 * sr:
                out += np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi)) / np.sqrt(k)
    swell = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 2 * np.pi))
    return _at_level(out * swell, rng)


def _colored(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), above 20 Hz at 22 kHz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    spectrum *= np.maximum(f, 20.0 / 22050.0) ** (-exponent / 2.0)
    return np.fft.irfft(spectrum, n)


def noise(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """White, pink, brown or band-limited (band-pass, 1-4 octaves wide) stationary noise."""
    from scipy.signal import butter, sosfilt

    rng = _rng(seed, "noise")
    n = _n_samples(sr, duration_s)
    color = str(rng.choice(["white", "pink", "brown", "band"]))
    if color == "band":
        lo = float(np.exp(rng.uniform(np.log(60.0), np.log(0.45 * sr / 4))))
        hi = min(lo * 2 ** rng.uniform(1.0, 4.0), 0.45 * sr)
        sos = butter(4, [lo, hi], btype="bandpass", fs=sr, output="sos")
        x = sosfilt(sos, rng.standard_normal(n + sr // 2))[sr // 2 :]  # drop the filter's start-up
    else:
        x = _colored(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[color])
    return _at_level(x, rng)


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program (needed by :func:`speech`) is on PATH."""
    return shutil.which("espeak-ng") is not None


def _espeak(text: str, voice: str, speed_wpm: int, pitch: int, folder: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    out = folder / "speech.wav"
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MvgenError("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng); it is needed for speech negatives")
    try:
        subprocess.run([exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(out), text], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise MvgenError(f"espeak-ng failed for voice {voice!r} ({exc.__class__.__name__})") from None
    audio, file_sr = sf.read(str(out), dtype="float32", always_2d=True)
    return audio.mean(axis=1), int(file_sr)


def speech(seed: int, sr: int, duration_s: float) -> np.ndarray:
    """One espeak-ng voice (from :data:`VOICES`, speed 120-210 wpm, pitch 25-75) reading random sentences.

    Sentences follow each other with espeak-ng's own pauses; the clip is cut from the start of the
    speech. Raises :class:`~mvgen.errors.MvgenError` when espeak-ng is missing or fails.
    """
    import soxr

    rng = _rng(seed, "speech")
    n = _n_samples(sr, duration_s)
    voice = str(rng.choice(VOICES))
    language = voice.split("+")[0].split("-")[0]
    sentences = SENTENCES[language]
    speed = int(rng.integers(120, 211))
    pitch = int(rng.integers(25, 76))
    # About 2.5 words a second at 150 wpm, six words to a second of a sentence; overshoot and cut.
    n_sentences = max(1, int(np.ceil(duration_s * speed / 60.0 / 9.0)) + 1)
    pieces: list[np.ndarray] = []
    total = 0
    with tempfile.TemporaryDirectory(prefix="mvgen-speech-") as tmp:
        while total < n:
            text = " ".join(str(s) for s in rng.choice(sentences, size=n_sentences))
            audio, file_sr = _espeak(text, voice, speed, pitch, Path(tmp))
            if file_sr != sr:
                audio = soxr.resample(audio, file_sr, sr)
            if len(audio) == 0:
                raise MvgenError(f"espeak-ng produced no audio for voice {voice!r}")
            pieces.append(audio)
            total += len(audio)
    y = np.concatenate(pieces)[:n]
    return _at_level(y, rng)


_GENERATORS = {"silence": silence, "tone": tone, "sweep": sweep, "drone": drone, "noise": noise, "speech": speech}


def negative_clip(kind: str, seed: int, sr: int = 22050, duration_s: float = 10.0) -> np.ndarray:
    """Mono float32 non-music audio of ``kind`` (one of :data:`NEGATIVE_KINDS`), shape ``(round(duration_s * sr),)``.

    Deterministic in ``(kind, seed, sr, duration_s)``. ``ValueError`` for an unknown kind; speech
    raises :class:`~mvgen.errors.MvgenError` when espeak-ng is missing.
    """
    if kind not in _GENERATORS:
        raise ValueError(f"unknown negative kind {kind!r}; allowed: {', '.join(NEGATIVE_KINDS)}")
    return _GENERATORS[kind](seed, sr, duration_s)
