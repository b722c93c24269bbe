"""The genre classifier's inference in numpy, for machines without a usable GPU.

:class:`CpuGenreClassifier` computes what :class:`mvgen.classify.classifier.GenreClassifier` computes in eval
mode (nnAudio's mel spectrogram and CQT front end, the CNN, window pooling, the head) from the same
checkpoint, with float32 numpy and BLAS, and without importing torch or nnAudio: those imports alone
take about 2.5 s on a small CPU, more than decoding and analyzing a whole track. The torch model stays
the reference (training, GPU inference); tests compare the two.

Which one the analysis uses is :func:`classifier_backend`'s answer, decided without importing torch.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mvgen.classify.checkpoints import (
    CQT_BINS_PER_OCTAVE,
    CQT_FMIN_HZ,
    LOG_FLOOR,
    LOG_SCALE,
    MEL_FMIN_HZ,
    WEIGHTS_NAME,
    ClassifierConfig,
    load_config,
    resolve_checkpoint,
)
from mvgen.errors import MvgenError
from mvgen.features import mel_filterbank
from mvgen.classify.predictions import WindowPredictions, plan_windows, softmax, split_scope

#: Environment variable choosing the classifier's backend: ``cpu`` (numpy, this module) or ``cuda``
#: (torch); unset: torch when an NVIDIA GPU is present, else numpy.
DEVICE_ENV = "MVGEN_DEVICE"

BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default eps, which GenreClassifier keeps
#: Samples per block of the CQT's strided convolution: each block of the long kernels is one matrix
#: product, and blocks where a bin's kernel is zero are skipped (the low bins' kernels are long, the
#: high bins' short), so the CQT costs about a quarter of the full kernel matrix.
CQT_BLOCK_SAMPLES = 256
#: Frames per block of the mel spectrogram's FFTs.
MEL_BLOCK_FRAMES = 256
#: BLAS threads of the numpy inference. OpenBLAS's threads spin while they wait for work: on a small
#: CPU shared with other work (the beat analysis runs beside the classifier in :func:`mvgen.analysis.track.analyze`)
#: two threads took 3-4x the CPU time of one and finished later; on an idle 2-core CPU one thread
#: is about a third slower than two.
BLAS_THREADS = 1
#: Convolutions with at most this many input channels (the first one: 1 or 2) run as one product over
#: an im2col copy; wider ones as 9 per-tap products of the image itself (no copy, inner size C_in).
IM2COL_MAX_CHANNELS = 4


def classifier_backend() -> Literal["numpy", "torch"]:
    """Which genre classifier inference to run: ``"torch"`` when a CUDA GPU can be used, else ``"numpy"``.

    Decided without importing torch: ``MVGEN_DEVICE=cpu`` forces numpy and ``MVGEN_DEVICE=cuda`` torch;
    otherwise, when torch is already imported its own answer, else torch only when an NVIDIA driver is
    installed (``/proc/driver/nvidia/version`` or ``nvidia-smi`` on the PATH)."""
    choice = os.environ.get(DEVICE_ENV, "").strip().lower()
    if choice == "cpu":
        return "numpy"
    if choice == "cuda":
        return "torch"
    if choice:
        raise MvgenError(f"{DEVICE_ENV}={choice!r}: expected 'cpu' or 'cuda' (or unset to detect the GPU)")
    if "torch" in sys.modules:
        return "torch" if sys.modules["torch"].cuda.is_available() else "numpy"
    has_gpu = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    return "torch" if has_gpu else "numpy"


def blas_threads(n: int):
    """Context in which BLAS uses ``n`` threads (process-wide while it lasts); a no-op without threadpoolctl,
    which only the speed depends on (it comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (scipy's ``get_window("hann", n, fftbins=True)``), float64."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _relative_log(power: np.ndarray, level_frames: int) -> np.ndarray:
    """``(log(power + LOG_FLOOR) - level) / LOG_SCALE`` of power spectra ``(F, T)``, level = centred moving
    average of the frame's mean log over ``level_frames`` frames, edges averaged over the frames
    present (``avg_pool1d(count_include_pad=False)``), as :meth:`mvgen.classify.classifier.FrontEnd._relative_log`."""
    x = np.log(power + np.float32(LOG_FLOOR))
    mean = x.mean(axis=0, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(mean)])
    t = np.arange(len(mean))
    lo, hi = np.maximum(t - level_frames // 2, 0), np.minimum(t + level_frames // 2 + 1, len(mean))
    level = ((csum[hi] - csum[lo]) / (hi - lo)).astype(np.float32)
    return (x - level) / np.float32(LOG_SCALE)


def _bilinear_rows(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` resizing the first axis as ``interpolate(mode="bilinear", align_corners=False)``."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), i1), frac)
    return m.astype(np.float32)


class _Cqt:
    """nnAudio's ``CQT1992v2`` power (magnitude squared, "librosa" normalization) as blocked matrix products.

    The kernels are nnAudio's ``create_cqt_kernels`` (Hann-windowed complex exponentials, L1-normalized,
    centred in ``width`` samples) times ``sqrt(length)``; the signal is reflect-padded by ``width // 2``
    and each frame ``t`` is the dot product of samples ``[t * hop, t * hop + width)`` with the kernels.
    """

    def __init__(self, config: ClassifierConfig):
        q = 1.0 / (2.0 ** (1.0 / CQT_BINS_PER_OCTAVE) - 1.0)
        freqs_hz = CQT_FMIN_HZ * 2.0 ** (np.arange(config.cqt_bins) / float(CQT_BINS_PER_OCTAVE))
        if freqs_hz[-1] > config.sr / 2:
            raise MvgenError(f"cqt_bins={config.cqt_bins}: the top CQT bin ({freqs_hz[-1]:.0f} Hz) is above the Nyquist frequency")
        lengths = np.ceil(q * config.sr / freqs_hz)
        self.width = int(2 ** np.ceil(np.log2(lengths.max())))
        self.hop = config.hop_length
        kernels = np.zeros((config.cqt_bins, self.width), dtype=np.complex128)
        for k, (freq_hz, length) in enumerate(zip(freqs_hz, lengths)):
            n = int(length)
            start = int(np.ceil(self.width / 2.0 - length / 2.0)) - (1 if n % 2 == 1 else 0)
            sig = hann_window(n) * np.exp(np.arange(-n // 2, n // 2) * 2j * np.pi * freq_hz / config.sr) / length
            # nnAudio stores complex64 kernels and scales the output by sqrt(length); the same product here.
            kernels[k, start : start + n] = (sig / np.abs(sig).sum()).astype(np.complex64) * np.sqrt(np.float32(length))
        self.block = math.gcd(self.hop, CQT_BLOCK_SAMPLES)
        self.n_bins = config.cqt_bins
        # Per block of kernel samples: its index and the (real, imag) column pairs of bins 0..m, m the
        # highest bin whose kernel reaches into the block. Kernels are centred and longer the lower
        # the bin, so outer blocks need only the first few bins and the prefix holds no zero kernels.
        self.blocks: list[tuple[int, np.ndarray]] = []
        for j in range(self.width // self.block):
            seg = kernels[:, j * self.block : (j + 1) * self.block]
            active = np.flatnonzero(np.abs(seg).max(axis=1) > 0)
            if len(active) == 0:
                continue
            n_active = int(active.max()) + 1
            columns = np.empty((self.block, 2 * n_active), dtype=np.float32)
            columns[:, 0::2] = seg[:n_active].real.T
            columns[:, 1::2] = seg[:n_active].imag.T
            self.blocks.append((j, columns))

    def power(self, x: np.ndarray) -> np.ndarray:
        """CQT power of mono ``x`` (shape ``(n,)``, float32), shape ``(bins, n // hop + 1)``."""
        pad = self.width // 2
        xp = np.pad(x, pad, mode="reflect")
        xp = np.pad(xp, (0, -len(xp) % self.block))
        rows = xp.reshape(-1, self.block)
        n_frames = len(x) // self.hop + 1
        stride = self.hop // self.block
        out = np.zeros((n_frames, 2 * self.n_bins), dtype=np.float32)
        for j, columns in self.blocks:
            # Row j + stride * t holds samples [t * hop + j * block, ... + block) of frame t's span.
            out[:, : columns.shape[1]] += rows[j : j + stride * (n_frames - 1) + 1 : stride] @ columns
        return (out[:, 0::2] ** 2 + out[:, 1::2] ** 2).T


class CpuFrontEnd:
    """Waveform ``(n,)`` at ``config.sr`` -> log spectrograms ``(C, n_mels, n // hop_length)``, float32:
    what :class:`mvgen.classify.classifier.FrontEnd` computes for one waveform (see there for the meaning)."""

    def __init__(self, config: ClassifierConfig):
        self.config = config
        self.window = hann_window(config.n_fft).astype(np.float32)
        self.mel_fb = mel_filterbank(config.sr, config.n_fft, config.n_mels, MEL_FMIN_HZ, config.sr / 2)[0]
        self.cqt = _Cqt(config) if config.front_end == "mel+cqt" else None
        self.resize = _bilinear_rows(config.cqt_bins, config.n_mels) if self.cqt is not None else None
        self.level_frames = config.level_frames

    def mel_power(self, x: np.ndarray) -> np.ndarray:
        """Mel power spectrogram ``(n_mels, n // hop + 1)`` of nnAudio's ``MelSpectrogram`` (centred, reflect-padded
        frames, periodic Hann window, power 2)."""
        n_fft, hop = self.config.n_fft, self.config.hop_length
        xp = np.pad(x, n_fft // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop]
        mel = np.empty((self.config.n_mels, len(frames)), dtype=np.float32)
        # Block by block: the windowed frames and their spectra are a few MB instead of ~100 MB for
        # a 3-minute chunk, which the allocator reuses rather than page-faulting in afresh.
        for a in range(0, len(frames), MEL_BLOCK_FRAMES):
            spectrum = np.fft.rfft(frames[a : a + MEL_BLOCK_FRAMES] * self.window, axis=1)
            power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32, copy=False)
            mel[:, a : a + MEL_BLOCK_FRAMES] = self.mel_fb @ power.T
        return mel

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(waveform, dtype=np.float32)
        t = len(x) // self.config.hop_length
        mel = _relative_log(self.mel_power(x), self.level_frames)[:, :t]
        if self.cqt is None:
            return mel[None]
        cqt = _relative_log(self.cqt.power(x), self.level_frames)[:, :t]
        return np.stack([mel, self.resize @ cqt])


@dataclass(frozen=True)
class _Conv:
    """A 3x3 convolution (padding 1) with its eval-mode BatchNorm folded in: ``taps (9, C_in, C_out)``,
    tap ``3 * dy + dx``; ``bias (C_out,)``."""

    taps: np.ndarray
    bias: np.ndarray


def _folded(state: dict[str, np.ndarray], conv: str, norm: str) -> _Conv:
    scale, shift = fold_batch_norm(state, norm)
    weight = state[f"{conv}.weight"].astype(np.float64)  # (C_out, C_in, 3, 3)
    taps = weight.transpose(2, 3, 1, 0).reshape(9, weight.shape[1], weight.shape[0]) * scale
    return _Conv(taps=np.ascontiguousarray(taps, dtype=np.float32), bias=shift.astype(np.float32))


def fold_batch_norm(state: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode BatchNorm ``name`` of a torch state dict (its ``weight``, ``bias``, ``running_mean`` and
    ``running_var``, each ``(C,)``) as ``x * scale + shift`` per channel: ``(scale, shift)``, each ``(C,)``
    float64, to fold into the convolution before it (also used by :mod:`mvgen.analysis.drums`)."""
    scale = state[f"{name}.weight"].astype(np.float64) / np.sqrt(state[f"{name}.running_var"].astype(np.float64) + BN_EPS)
    return scale, state[f"{name}.bias"] - state[f"{name}.running_mean"] * scale


class _Padded:
    """A zero-bordered channels-last image ``(F + 2, T + 2, C)`` stored flat, rows ``(F + 2) * (T + 2) + 2``.

    Flat, the input of output pixel ``(f, t)`` at tap ``(dy, dx)`` is row ``f * (T + 2) + t + dy * (T + 2) + dx``,
    so each tap of a 3x3 convolution is one matrix product of a contiguous slice of rows; the two extra
    rows keep the last tap's slice in bounds (they feed only the discarded border columns)."""

    def __init__(self, f: int, t: int, c: int):
        self.f, self.t = f, t
        self.flat = np.zeros(((f + 2) * (t + 2) + 2, c), dtype=np.float32)

    @property
    def interior(self) -> np.ndarray:
        """The image ``(F, T, C)``, a writable view."""
        return self.flat[: (self.f + 2) * (self.t + 2)].reshape(self.f + 2, self.t + 2, -1)[1:-1, 1:-1]

    def conv(self, conv: _Conv) -> np.ndarray:
        """The convolution without bias, ``(F, T, C_out)`` (a view of a ``(F, T + 2, C_out)`` array)."""
        width = self.t + 2
        n = self.f * width
        c_in = self.flat.shape[1]
        if c_in <= IM2COL_MAX_CHANNELS:
            # Few input channels: one product over all 9 taps beats 9 products of inner size c_in. Rows
            # r..r+2 of the flat image are contiguous, so each kernel row's 3 taps are one strided view.
            stacked = np.empty((n, 3, 3 * c_in), dtype=np.float32)
            for dy in range(3):
                stacked[:, dy] = np.lib.stride_tricks.as_strided(self.flat[dy * width :], shape=(n, 3 * c_in), strides=self.flat.strides)
            out = stacked.reshape(n, 9 * c_in) @ conv.taps.reshape(9 * c_in, -1)
            return out.reshape(self.f, width, -1)[:, : self.t]
        out = self.flat[:n] @ conv.taps[0]
        scratch = np.empty_like(out)
        for tap in range(1, 9):
            offset = (tap // 3) * width + tap % 3
            np.matmul(self.flat[offset : offset + n], conv.taps[tap], out=scratch)
            out += scratch
        return out.reshape(self.f, width, -1)[:, : self.t]


class CpuGenreClassifier:
    """:class:`mvgen.classify.classifier.GenreClassifier`'s inference (eval mode) in numpy; build with :func:`load_cpu_classifier`."""

    def __init__(self, config: ClassifierConfig, state: dict[str, np.ndarray]):
        self.config = config
        self.front_end = CpuFrontEnd(config)
        self.input_scale, self.input_shift = (a.astype(np.float32) for a in fold_batch_norm(state, "input_norm"))
        self.blocks = [(_folded(state, f"backbone.{i}.0", f"backbone.{i}.1"), _folded(state, f"backbone.{i}.3", f"backbone.{i}.4")) for i in range(len(config.channels))]
        self.head_weight = state["head.1.weight"].T.astype(np.float32)  # (2 C, outputs)
        self.head_bias = state["head.1.bias"].astype(np.float32)

    def features(self, spec: np.ndarray) -> np.ndarray:
        """Feature sequence ``(T // step_frames, C)`` of a spectrogram ``(C_in, F, T)``
        (:meth:`GenreClassifier.features`, time first)."""
        _, f, t = spec.shape
        image = _Padded(f, t, spec.shape[0])
        np.multiply(spec.transpose(1, 2, 0), self.input_scale, out=image.interior)
        image.interior[...] += self.input_shift
        for first, second in self.blocks:
            hidden = _Padded(f, t, first.bias.shape[0])
            np.add(image.conv(first), first.bias, out=hidden.interior)
            np.maximum(hidden.interior, 0.0, out=hidden.interior)
            y = hidden.conv(second)
            f, t = f // 2, t // 2
            image = _Padded(f, t, second.bias.shape[0])
            # 2x2 max pooling before the bias and ReLU: both commute with the max and then cost a quarter.
            pooled = image.interior
            np.maximum(y[0 : 2 * f : 2, 0 : 2 * t : 2], y[0 : 2 * f : 2, 1 : 2 * t : 2], out=pooled)
            np.maximum(pooled, y[1 : 2 * f : 2, 0 : 2 * t : 2], out=pooled)
            np.maximum(pooled, y[1 : 2 * f : 2, 1 : 2 * t : 2], out=pooled)
            pooled += second.bias
            np.maximum(pooled, 0.0, out=pooled)
        return image.interior.mean(axis=0)

    def window_probabilities(self, h: np.ndarray) -> np.ndarray:
        """Calibrated output probabilities ``(S - window_steps + 1, outputs)`` of every window of a feature
        sequence ``(S, C)``: mean and max pooling, the linear head, the temperature softmax."""
        windows = np.lib.stride_tricks.sliding_window_view(h, self.config.window_steps, axis=0)  # (W, C, k)
        pooled = np.concatenate([windows.mean(axis=2), windows.max(axis=2)], axis=1)
        return softmax(pooled @ self.head_weight + self.head_bias, self.config)

    def predict_profile(self, y: np.ndarray, *, chunk_steps: int = 256) -> WindowPredictions:
        """Window predictions over a whole track, as :func:`mvgen.classify.classifier.predict_profile`: mono ``y``
        (shape ``(n,)``) at ``config.sr`` Hz, in the same chunks of ``chunk_steps`` windows. BLAS runs
        with :data:`BLAS_THREADS` threads meanwhile."""
        plan = plan_windows(len(y), self.config, chunk_steps)
        outputs = np.zeros((plan.n_windows, len(self.config.output_labels)), dtype=np.float32)
        with blas_threads(BLAS_THREADS):
            for c in plan.chunks:
                h = self.features(self.front_end(plan.chunk_audio(y, c)))
                outputs[c.w0 : c.w1] = self.window_probabilities(h)[c.w0 - c.s0 : c.w1 - c.s0]
        probabilities, in_scope = split_scope(outputs, self.config)
        return WindowPredictions(times_s=plan.times_s, probabilities=probabilities, in_scope=in_scope)


def load_cpu_classifier(id_or_path: str | os.PathLike) -> CpuGenreClassifier:
    """Load a classifier checkpoint (folder or Hub id) for numpy inference.

    Raises :class:`MvgenError` naming the folder (or id) when it is not a checkpoint or does not match its config."""
    from safetensors.numpy import load_file

    folder = resolve_checkpoint(id_or_path)
    config = load_config(folder)
    state = load_file(str(folder / WEIGHTS_NAME))
    try:
        return CpuGenreClassifier(config, state)
    except KeyError as exc:
        raise MvgenError(f"weights do not match the config (missing {exc.args[0]!r})", folder) from None
