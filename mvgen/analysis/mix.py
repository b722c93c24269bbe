"""The tracks of a DJ mix, a radio show or an album side, and how much drums each stretch has.

A track's breakdown is still that track: its loudness, its genre and its sections are judged against
the track, not against the whole file. :func:`find_track_spans` cuts a file into the tracks it plays
(one span for a single track); :func:`drum_presence` says how much drums play around each time.

How tracks are told apart
    The file is cut in :data:`BLOCK_S` blocks. Each block gets a descriptor: its spectral shape (the
    five detail bands relative to the block's level), its drum pattern (kick, snare and hat hits a
    second, from the audio features), its key (chroma) and its tempo (the beat grid's local period).
    The cut is the partition into runs of at least :data:`MIN_TRACK_S` that minimizes the weighted
    squared deviation of each run's descriptors from the run's mean, plus :data:`TRACK_PENALTY` per
    run (optimal partitioning by dynamic programming, as ``ruptures``' Pelt does without pruning).
    Each block weighs by its drum presence (:func:`drum_presence`, 0 without drums): a breakdown, whose
    pads and piano sound nothing like its drop, does not count, so it never splits its track; a track
    change changes the drums, the key or the tempo where the drums play, and that counts in full.
"""

from __future__ import annotations

import numpy as np

from mvgen.analysis.beats import beat_chroma, interval_means
from mvgen.analysis.reactive import AudioFeatures
from mvgen.features import FrameFeatures

#: Block length (s) of the track descriptors: two bars at 160 bpm, one at 80.
BLOCK_S = 3.0
#: A track of a mix plays at least this long (s); shorter files are one track. DJ mixes play each
#: track for 1.5 minutes and more, so a cut is never placed closer than this to another or to an end.
MIN_TRACK_S = 60.0
#: Cost of one more track, in units of squared standard deviations of a descriptor dimension (each
#: dimension is scaled to unit weighted deviation over the file) summed over the descriptor: a run
#: is cut in two only where that explains this much more of the descriptors' variance.
#: Measured on the development tracker modules (11 real dance tracks, 67-300 s, rendered whole) and on
#: them back to back with 8 s crossfades (33 minutes): at 160 two single tracks split and the mix's 9
#: changes are all found; at 240 no single track splits and 8 of the 9 are found (within 32 s); at
#: 320, 7. Synthetic tracks with 32-bar breakdowns stay whole from 40 up; synthetic reggae and hip hop,
#: whose sections change their drums, from 160.
TRACK_PENALTY = 240.0
FULL_DRUMS_PER_S = 3.0
#: A descriptor dimension counts at most this many standard deviations from the file's mean, so a
#: few odd blocks (a drum fill, a sweep) cannot outweigh minutes of a track.
Z_CLIP = 3.0
#: The instruments whose hits say drums are playing: the drum model's snare and hats. The kick is the
#: band flux's, normalized per track, and reads bass notes and pads as kicks where no kick plays.
PRESENCE_SOURCES = ("snare", "hats")
#: Snare and hat hits a second at which a stretch counts as fully drummed: hats on the off-beats at
#: 120 bpm and a backbeat make 3; a synthetic ambient track makes 0, a house breakdown without drums 0.
#: A single-frame snare or hat activation at or above this is a hit; a kick is a rise through it.
HIT_LEVEL = 0.3


def drum_hits(audio_features: AudioFeatures) -> dict[str, np.ndarray]:
    """Hits per analysis frame of the kick (rises through :data:`HIT_LEVEL`), the snare and the hats (their
    single-frame peaks at or above it): ``{"kick", "snare", "hats"}`` each shape ``(n_frames,)``, 0 or 1."""
    kick = audio_features.array("kick") >= HIT_LEVEL
    hits = {"kick": np.zeros(audio_features.n_frames)}
    hits["kick"][1:] = kick[1:] & ~kick[:-1]
    for name in ("snare", "hats"):
        hits[name] = (audio_features.array(name) >= HIT_LEVEL).astype(np.float64)
    return hits


def _hit_rates(audio_features: AudioFeatures, starts_s: np.ndarray, ends_s: np.ndarray) -> np.ndarray:
    """Kick, snare and hat hits a second in each interval, shape ``(len(starts_s), 3)``."""
    hop_s = audio_features.hop_s
    return np.stack([interval_means(h, hop_s, starts_s, ends_s) / hop_s for h in drum_hits(audio_features).values()], axis=1)


def drum_presence(audio_features: AudioFeatures, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """How much drums play in the window of ``window_s`` seconds centred at each of ``times_s``: drum hits
    a second over :data:`FULL_DRUMS_PER_S`, clipped to [0, 1], shape ``(len(times_s),)``."""
    times_s = np.asarray(times_s, dtype=np.float64)
    return _presence(_hit_rates(audio_features, times_s - window_s / 2, times_s + window_s / 2))


def _presence(rates: np.ndarray) -> np.ndarray:
    """Drum presence in [0, 1] of hit rates ``(N, 3)`` (kick, snare, hats a second)."""
    columns = [("kick", "snare", "hats").index(name) for name in PRESENCE_SOURCES]
    return np.clip(rates[:, columns].sum(axis=1) / FULL_DRUMS_PER_S, 0.0, 1.0)


def block_descriptors(y: np.ndarray, sr: int, features: FrameFeatures, audio_features: AudioFeatures, beats_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts_s (K,), descriptors (K, D), weights (K,))`` of the :data:`BLOCK_S` blocks of mono ``y`` at ``sr``
    (see the module docstring); ``features`` with their detail, ``beats_s`` the beat grid (may be empty)."""
    duration_s = len(y) / sr
    starts = np.arange(0.0, max(duration_s - BLOCK_S / 2, BLOCK_S / 2), BLOCK_S)
    ends = np.minimum(starts + BLOCK_S, duration_s)
    hop_s = features.hop_s
    bands = np.stack([interval_means(features.detail.band_power[:, j].astype(np.float64), hop_s, starts, ends) for j in range(features.detail.band_power.shape[1])], axis=1)
    bands_db = 10.0 * np.log10(np.maximum(bands, 1e-10))
    shape = bands_db - bands_db.mean(axis=1, keepdims=True)
    pattern = _hit_rates(audio_features, starts, ends)
    # Chroma from four frames a block, each just past a quarter of it (the key, not one chord).
    probes = (starts[:, None] + np.array([0.1, 0.35, 0.6, 0.85]) * BLOCK_S).ravel()
    chroma = beat_chroma(y, sr, np.minimum(probes, max(duration_s - 0.2, 0.0))).reshape(len(starts), 4, 12).mean(axis=1)
    if len(beats_s) > 2:
        centres = (starts + ends) / 2
        period = np.interp(centres, beats_s[1:], np.diff(beats_s))
        tempo = np.log2(60.0 / np.maximum(period, 1e-3))[:, None]
    else:
        tempo = np.zeros((len(starts), 1))
    descriptors = np.concatenate([shape, np.log1p(pattern), chroma, tempo], axis=1)
    return starts, descriptors, _presence(pattern)


def optimal_partition(x: np.ndarray, weights: np.ndarray, *, penalty: float, min_size: int) -> list[int]:
    """Start indices of the runs of ``x`` (shape ``(K, D)``) minimizing the weighted within-run squared
    deviation plus ``penalty`` per run, every run at least ``min_size`` rows (``[0]``: one run)."""
    k = len(x)
    if k < 2 * min_size:
        return [0]
    w = np.asarray(weights, dtype=np.float64)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(w[:, None] * x, axis=0)])
    cxx = np.concatenate([[0.0], np.cumsum(w * np.sum(x * x, axis=1))])
    best = np.full(k + 1, np.inf)
    best[0] = 0.0
    previous = np.zeros(k + 1, dtype=int)
    for end in range(min_size, k + 1):
        starts = np.arange(0, end - min_size + 1)
        starts = starts[np.isfinite(best[starts])]
        if not len(starts):
            continue
        sw = cw[end] - cw[starts]
        sx = cx[end] - cx[starts]
        cost = cxx[end] - cxx[starts] - np.sum(sx * sx, axis=1) / np.maximum(sw, 1e-12)
        total = best[starts] + cost + penalty
        i = int(np.argmin(total))
        best[end], previous[end] = total[i], starts[i]
    cuts, end = [], k
    while end > 0:
        end = previous[end]
        cuts.append(end)
    return sorted(cuts)


def find_track_spans(y: np.ndarray, sr: int, features: FrameFeatures, audio_features: AudioFeatures, beats_s) -> list[tuple[float, float]]:
    """The tracks of mono ``y`` at ``sr`` Hz (see the module docstring): ``(start_s, end_s)`` covering
    ``[0, duration_s)`` in order; one span for a file shorter than two :data:`MIN_TRACK_S` or a single track."""
    duration_s = len(y) / sr
    if duration_s < 2 * MIN_TRACK_S or features.detail is None:
        return [(0.0, round(duration_s, 3))]
    starts, x, w = block_descriptors(y, sr, features, audio_features, np.asarray(beats_s, dtype=np.float64))
    if w.sum() < 1e-9:  # no drums anywhere: nothing to tell tracks apart by
        return [(0.0, round(duration_s, 3))]
    mean = np.average(x, axis=0, weights=w)
    sd = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    z = np.clip(np.divide(x - mean, sd, out=np.zeros_like(x), where=sd > 1e-9), -Z_CLIP, Z_CLIP)
    cuts = optimal_partition(z, w, penalty=TRACK_PENALTY, min_size=int(round(MIN_TRACK_S / BLOCK_S)))
    bounds = [float(starts[c]) for c in cuts] + [duration_s]
    return [(round(a, 3), round(b, 3)) for a, b in zip(bounds[:-1], bounds[1:])]
