"""musicnn (Pons & Serra 2019) without TensorFlow: an outside judge of how real mvgen's synthetic music sounds.

Why
    mvgen's genre model learns from its own synthesizer. A model trained on real records is a judge the
    synthesizer cannot fool by construction: musicnn's ``MSD_musicnn`` tags 3 s patches with the Million
    Song Dataset's 50 most common tags (House, dance, electronic, electro, Hip-Hop, rock, jazz, ...). Real
    house should read as House/dance/electronic; if the synthesizer's house reads as ambient, the genre
    model learns the synthesizer, not house.

What this file does
    * :func:`read_checkpoint`: the tensors of a TensorFlow 1 checkpoint (``.index`` + ``.data-*``) with
      numpy only. The ``.index`` file is a LevelDB table (blocks of prefix-compressed keys, a block index,
      a 48-byte footer) whose values are ``BundleEntryProto`` records (dtype, shape, offset, size); the
      ``.data`` file holds the raw little-endian tensors at those offsets.
    * :class:`Musicnn`: the MSD_musicnn inference graph (``musicnn/models.py``: the front end's timbral
      7x38 and 7x67 and temporal 128/64/32x1 convolutions pooled over frequency, three dense-connected
      1-D convolutions, mean and max pooling over time, a 200-unit penultimate layer, 50 sigmoid tags),
      in numpy, batch normalization folded from its moving statistics.
    * :func:`log_mel`: musicnn's input (``musicnn/extractor.py``): 16 kHz audio (resampled with
      ``resampy``'s ``kaiser_best``, as the original's ``librosa.load`` did), a 512-point STFT every 256
      samples, 96 mel bands (librosa's Slaney filters), ``log10(10000 x + 1)`` after a float16 round trip.
    * ``python benchmarks/musicnn.py judge``: mean tag scores of every synth style beside real tracks.

Checked against musicnn's own TensorFlow graph (TensorFlow 2.21 with tf-keras, in a separate
environment, 2026-12-06): on the same six log-mel patches of a real track the tag probabilities agree
within 4e-7 and the penultimate layer within 4e-6.

The weights come from the ``musicnn`` 0.1.0 wheel on PyPI (ISC licence, Universitat Pompeu Fabra; pass
``--wheel`` or let pip download it). They are not part of mvgen.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
FFT_HOP = 256
FFT_SIZE = 512
N_MELS = 96
#: Frames of one input patch (3 s at 16 kHz and a hop of 256).
PATCH_FRAMES = 187
MSD_LABELS = ['rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s', 'alternative rock', 'jazz', 'beautiful',
              'metal', 'chillout', 'male vocalists', 'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill',
              'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop',
              '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb',
              'indie pop', 'sad', 'House', 'happy']
_LEVELDB_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16}  # TensorFlow DataType enum


# ---------------------------------------------------------------------------------------------
# TensorFlow checkpoints without TensorFlow


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _block_entries(buf: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` entries of one LevelDB table block (uncompressed, as TensorFlow writes them)."""
    block = buf[offset : offset + size]
    if buf[offset + size] != 0:
        raise ValueError("compressed table block: not a TensorFlow checkpoint index")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, key, i = [], b"", 0
    while i < end:
        shared, i = _varint(block, i)
        unshared, i = _varint(block, i)
        value_len, i = _varint(block, i)
        key = key[:shared] + block[i : i + unshared]
        i += unshared
        entries.append((key, block[i : i + value_len]))
        i += value_len
    return entries


def _fields(message: bytes) -> dict[int, list]:
    """Protocol-buffer fields of ``message``: number -> values (varints as ints, length-delimited as bytes)."""
    out: dict[int, list] = {}
    i = 0
    while i < len(message):
        tag, i = _varint(message, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(message, i)
        elif wire == 2:
            n, i = _varint(message, i)
            value, i = message[i : i + n], i + n
        elif wire == 5:
            value, i = struct.unpack_from("<I", message, i)[0], i + 4
        elif wire == 1:
            value, i = struct.unpack_from("<Q", message, i)[0], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the TensorFlow checkpoint ``prefix`` (``prefix.index``, ``prefix.data-00000-of-00001``)."""
    prefix = str(prefix)
    index = Path(prefix + ".index").read_bytes()
    footer = index[-48:]
    if struct.unpack_from("<Q", footer, 40)[0] != _LEVELDB_MAGIC:
        raise ValueError(f"{prefix}.index: not a LevelDB table")
    _, i = _varint(footer, 0)  # the metaindex block handle: unused
    _, i = _varint(footer, i)
    index_offset, i = _varint(footer, i)
    index_size, _ = _varint(footer, i)
    data = Path(prefix + ".data-00000-of-00001").read_bytes()
    tensors = {}
    for _, handle in _block_entries(index, index_offset, index_size):
        block_offset, j = _varint(handle, 0)
        block_size, _ = _varint(handle, j)
        for key, value in _block_entries(index, block_offset, block_size):
            if not key:
                continue  # the bundle header
            entry = _fields(value)
            dtype = _DTYPES[entry.get(1, [1])[0]]
            shape = [_fields(d).get(1, [0])[0] for d in _fields(entry.get(2, [b""])[0]).get(2, [])]
            offset, size = entry.get(4, [0])[0], entry.get(5, [0])[0]
            tensors[key.decode()] = np.frombuffer(data[offset : offset + size], dtype=dtype).reshape(shape).copy()
    return tensors


def wheel_checkpoint(wheel: Path, model: str, folder: Path) -> Path:
    """Extract ``model``'s checkpoint (e.g. ``MSD_musicnn``) from the musicnn wheel into ``folder``; returns its
    prefix (``folder/model``: ``folder/model.index`` and ``folder/model.data-00000-of-00001``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in (".index", ".data-00000-of-00001"):
            (folder / f"{model}{name}").write_bytes(z.read(f"musicnn/{model}/{name}"))
    return folder / model


# ---------------------------------------------------------------------------------------------
# the network in numpy


@dataclass(frozen=True)
class _BatchNorm:
    scale: np.ndarray
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


def _conv_time(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'valid' convolution over time of ``x`` (B, T, F) with ``kernel`` (kt, F, C) -> (B, T - kt + 1, C)."""
    kt = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(x, kt, axis=1)  # (B, T', F, kt)
    return np.einsum("btfk,kfc->btc", windows, kernel, optimize=True) + bias


class Musicnn:
    """MSD_musicnn's inference graph in numpy (see the module docstring), from :func:`read_checkpoint`'s tensors."""

    def __init__(self, tensors: dict[str, np.ndarray]):
        t = tensors
        def bn(name: str) -> _BatchNorm:
            gamma, beta = t[f"{name}/gamma"], t[f"{name}/beta"]
            mean, var = t[f"{name}/moving_mean"], t[f"{name}/moving_variance"]
            scale = gamma / np.sqrt(var + 1e-3)  # tf.layers.batch_normalization's default epsilon
            return _BatchNorm(scale.astype(np.float32), (beta - mean * scale).astype(np.float32))
        # Layer names follow tf.compat.v1.layers' automatic numbering in build_musicnn's order.
        self.input_bn = bn("batch_normalization")
        self.timbral = [(t["conv2d/kernel"], t["conv2d/bias"], bn("batch_normalization_1")), (t["conv2d_1/kernel"], t["conv2d_1/bias"], bn("batch_normalization_2"))]
        self.temporal = [(t[f"conv2d_{k}/kernel"], t[f"conv2d_{k}/bias"], bn(f"batch_normalization_{k + 1}")) for k in (2, 3, 4)]
        self.midend = [(t[f"conv2d_{k}/kernel"], t[f"conv2d_{k}/bias"], bn(f"batch_normalization_{k + 1}")) for k in (5, 6, 7)]
        self.pool_bn = bn("batch_normalization_9")
        self.dense = (t["dense/kernel"], t["dense/bias"], bn("batch_normalization_10"))
        self.out = (t["dense_1/kernel"], t["dense_1/bias"])

    def forward(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patches ``(B, 187, 96)`` of :func:`log_mel` -> (tag probabilities ``(B, 50)``, penultimate ``(B, 200)``)."""
        x = self.input_bn(patches.astype(np.float32))  # (B, T, 96): one input channel
        feats = []
        padded = np.pad(x, ((0, 0), (3, 3), (0, 0)))
        for kernel, bias, bn in self.timbral:  # kernel (7, kf, 1, C): valid over time and frequency, max over frequency
            kt, kf, _, c = kernel.shape
            windows = np.lib.stride_tricks.sliding_window_view(padded, (kt, kf), axis=(1, 2))  # (B, T, F - kf + 1, kt, kf)
            y = np.einsum("btfkl,klc->btfc", windows, kernel[:, :, 0, :], optimize=True) + bias
            feats.append(bn(np.maximum(y, 0.0)).max(axis=2))
        for kernel, bias, bn in self.temporal:  # kernel (kt, 1, 1, C): 'same' over time, per band, max over frequency
            kt = kernel.shape[0]
            before = (kt - 1) // 2
            xp = np.pad(x, ((0, 0), (before, kt - 1 - before), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(xp, kt, axis=1)  # (B, T, F, kt)
            y = np.einsum("btfk,kc->btfc", windows, kernel[:, 0, 0, :], optimize=True) + bias
            feats.append(bn(np.maximum(y, 0.0)).max(axis=2))
        front = np.concatenate(feats, axis=2)  # (B, T, 561)
        layers = [front]
        h = front
        for k, (kernel, bias, bn) in enumerate(self.midend):
            y = bn(np.maximum(_conv_time(np.pad(h, ((0, 0), (3, 3), (0, 0))), kernel[:, :, 0, :], bias), 0.0))
            h = y if k == 0 else y + h
            layers.append(h)
        mid = np.concatenate(layers, axis=2)  # (B, T, 561 + 3 x 64)
        # (B, 753, 2) flattened: the max and the mean of each feature side by side, as tf.layers.flatten lays them
        pooled = self.pool_bn(np.stack([mid.max(axis=1), mid.mean(axis=1)], axis=2).reshape(len(mid), -1))
        kernel, bias, bn = self.dense
        penultimate = bn(np.maximum(pooled @ kernel + bias, 0.0))
        kernel, bias = self.out
        logits = penultimate @ kernel + bias
        return 1.0 / (1.0 + np.exp(-logits)), penultimate


def log_mel(y: np.ndarray, sr: int) -> np.ndarray:
    """musicnn's input of mono ``y`` at ``sr`` Hz: ``(frames, 96)``, see the module docstring."""
    import librosa
    import resampy

    audio = resampy.resample(np.asarray(y, np.float64), sr, SR, filter="kaiser_best") if sr != SR else np.asarray(y, np.float64)
    mel = librosa.feature.melspectrogram(y=audio.astype(np.float32), sr=SR, hop_length=FFT_HOP, n_fft=FFT_SIZE, n_mels=N_MELS).T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def patches(rep: np.ndarray, hop: int = PATCH_FRAMES) -> np.ndarray:
    """Patches of :data:`PATCH_FRAMES` every ``hop`` frames, ``(B, 187, 96)`` (the extractor's batching, no overlap)."""
    starts = range(0, rep.shape[0] - PATCH_FRAMES + 1, hop)
    return np.stack([rep[s : s + PATCH_FRAMES] for s in starts]) if len(starts) else np.zeros((0, PATCH_FRAMES, N_MELS), np.float32)


def tag_scores(model: Musicnn, y: np.ndarray, sr: int) -> np.ndarray:
    """Mean tag probabilities ``(50,)`` over the 3 s patches of ``y``."""
    batch = patches(log_mel(y, sr))
    probabilities = np.concatenate([model.forward(batch[i : i + 16])[0] for i in range(0, len(batch), 16)])
    return probabilities.mean(axis=0)


# ---------------------------------------------------------------------------------------------
# the judge

#: The tags the judge reports (musicnn's MSD tags that say "dance music" or name its neighbours).
JUDGE_TAGS = ("House", "dance", "electronic", "electro", "ambient", "Hip-Hop", "rock")


def fetch_wheel(cache: Path) -> Path:
    """The musicnn 0.1.0 wheel in ``cache`` (downloaded from PyPI with pip when missing)."""
    import subprocess

    wheels = sorted(cache.glob("musicnn-0.1.0-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "musicnn==0.1.0", "-d", str(cache)], check=True)
        wheels = sorted(cache.glob("musicnn-0.1.0-*.whl"))
    return wheels[0]


def _row(name: str, scores: np.ndarray) -> str:
    return f"{name:44s} " + " ".join(f"{scores[MSD_LABELS.index(tag)]:8.3f}" for tag in JUDGE_TAGS)


def judge(model: Musicnn, *, seeds: int, bars_scale: float, real_cache: Path | None, log=print) -> dict:
    """Mean tag scores (:data:`JUDGE_TAGS`) of every synth style (whole tracks of the default arrangement; for
    the house styles also their drops and breakdowns apart) beside real music: the development dance tracker
    modules of ``real_music.py`` and the real non-house tracks of ``real_negatives.py`` found in ``real_cache``."""
    from mvgen import synth
    from mvgen.genres import GENRES

    report: dict[str, dict[str, float]] = {}
    log(f"{'':44s} " + " ".join(f"{tag:>8s}" for tag in JUDGE_TAGS))

    def add(name: str, scores: np.ndarray) -> None:
        report[name] = {tag: round(float(scores[MSD_LABELS.index(tag)]), 4) for tag in JUDGE_TAGS}
        log(_row(name, scores))

    for style in synth.STYLES:
        whole, parts = [], {"drop": [], "breakdown": []}
        for seed in range(seeds):
            audio, truth = synth.render(synth.default_arrangement(style, seed=seed, bars_scale=bars_scale), seed=seed, sr=22050, stereo=False)
            whole.append(tag_scores(model, audio, 22050))
            if style in GENRES:
                for section in truth.sections:
                    if section.label in parts and section.end_s - section.start_s >= 3.5:
                        parts[section.label].append(tag_scores(model, audio[int(section.start_s * 22050) : int(section.end_s * 22050)], 22050))
        add(f"synth {style}", np.mean(whole, axis=0))
        for label, rows in parts.items():
            if rows:
                add(f"synth {style}: {label}s", np.mean(rows, axis=0))
    if real_cache is not None:
        import soundfile as sf

        for folder, what in (("tracks", "real dance tracker module"), ("negatives", "real non-house")):
            for wav in sorted((real_cache.expanduser() / folder).glob("*.wav")):
                y, sr = sf.read(wav, dtype="float32", always_2d=True)
                add(f"{what}: {wav.stem}"[:44], tag_scores(model, y.mean(axis=1), sr))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    j = sub.add_parser("judge", help="musicnn's tag scores of every synth style beside real music")
    j.add_argument("--cache", type=Path, default=Path("~/.cache/mvgen-bench").expanduser(), help="where the wheel and the real music are")
    j.add_argument("--seeds", type=int, default=2)
    j.add_argument("--bars-scale", type=float, default=0.5)
    j.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    prefix = wheel_checkpoint(fetch_wheel(args.cache / "musicnn"), "MSD_musicnn", args.cache / "musicnn")
    model = Musicnn(read_checkpoint(prefix))
    report = judge(model, seeds=args.seeds, bars_scale=args.bars_scale, real_cache=args.cache)
    if args.json is not None:
        import json

        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
