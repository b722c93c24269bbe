"""mvgen.training.degrade: each degradation measured on real signals (music, sines, clicks, noise)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from mvgen.training import degrade as d

SR = 22050
NON_FFMPEG = ("reverb", "eq_tilt", "clip", "master", "noise")


@pytest.fixture(scope="module")
def music():
    """4 s of synthetic tech house at 22050 Hz (peak -1 dBFS)."""
    from mvgen import synth

    audio, _ = synth.render_clip("tech_house", seed=1, sr=SR, duration_s=4)
    return np.asarray(audio, np.float32)


def _rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def _lag(out, ref, max_lag=2000):
    """Lag (samples) of the cross-correlation peak of ``out`` against ``ref``."""
    xc = signal.correlate(out.astype(np.float64), ref.astype(np.float64), mode="full", method="fft")
    lags = signal.correlation_lags(len(out), len(ref), mode="full")
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(xc[keep])])


def _thd(x, f0, sr):
    """Power of harmonics 2..10 over the fundamental's, from a Hann-windowed spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    bin_hz = sr / len(x)

    def band(f):
        k = int(round(f / bin_hz))
        return spec[max(k - 3, 0) : k + 4].sum()

    return sum(band(h * f0) for h in range(2, 11) if h * f0 < sr / 2) / band(f0)


# ------------------------------------------------------------------------------------- master


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_master_limits_to_ceiling_louder_and_less_crest(music, seed):
    quiet = music * np.float32(0.5)
    params = d.draw_params("master", np.random.default_rng(seed))
    out = d.master(quiet, SR, np.random.default_rng(seed))
    ceiling = 10 ** (params["ceiling_db"] / 20)
    assert out.dtype == np.float32 and out.shape == quiet.shape
    assert np.max(np.abs(out)) <= ceiling + 1e-6
    assert np.max(np.abs(out)) > ceiling - 0.05  # it does push up to the ceiling
    assert _rms(out) > _rms(quiet) * 1.5
    crest_in = np.max(np.abs(quiet)) / _rms(quiet)
    crest_out = np.max(np.abs(out)) / _rms(out)
    assert crest_out < crest_in * 10 ** (-2 / 20)  # at least 2 dB less crest factor
    assert np.corrcoef(out, quiet)[0, 1] > 0.9


def test_master_limiter_has_no_overs_on_isolated_transients():
    # Clicks on a quiet bed: the look-ahead has to catch each one from silence.
    x = np.zeros(SR, np.float32)
    x[::2205] = 1.0
    x += 0.01 * np.sin(2 * np.pi * 100 * np.arange(SR) / SR).astype(np.float32)
    out = d.master(x, SR, np.random.default_rng(0), ceiling_db=-1.0, reduction_db=10.0)
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6


# --------------------------------------------------------------------------------------- clip


@pytest.mark.parametrize("hard", [True, False, None])
def test_clip_bounded_and_adds_harmonics(hard):
    t = np.arange(SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 441 * t)).astype(np.float32)
    out = d.clip(sine, np.random.default_rng(3), hard=hard)
    assert out.dtype == np.float32 and out.shape == sine.shape
    assert np.max(np.abs(out)) <= 1.0
    assert _thd(sine, 441, SR) < 1e-6
    assert _thd(out, 441, SR) > 1e-3  # >= -30 dB of harmonics


# -------------------------------------------------------------------------------------- lossy


@pytest.mark.parametrize("codec", ["mp3", "aac"])
def test_lossy_aligned_and_faithful_on_music(music, codec, ffmpeg):
    out = d.lossy(music, SR, np.random.default_rng(0), codec)
    assert out.dtype == np.float32 and out.shape == music.shape
    assert np.max(np.abs(out)) <= 1.0
    assert abs(_lag(out, music)) <= 2
    assert np.corrcoef(out, music)[0, 1] > 0.9
    assert not np.array_equal(out, music)


@pytest.mark.parametrize("codec", ["mp3", "aac"])
def test_lossy_96k_cuts_the_high_band(codec, ffmpeg):
    sr = 44100
    y = (0.1 * np.random.default_rng(0).standard_normal(sr)).astype(np.float32)
    out = d.lossy(y, sr, np.random.default_rng(0), codec, kbps=96)
    f, p_in = signal.welch(y, sr, nperseg=2048)
    _, p_out = signal.welch(out, sr, nperseg=2048)
    high = f >= 17000
    mid = (f >= 1000) & (f < 10000)
    assert 10 * np.log10(p_out[high].sum() / p_in[high].sum()) < -20
    assert abs(10 * np.log10(p_out[mid].sum() / p_in[mid].sum())) < 3
    assert abs(_lag(out, y)) <= 2


def test_lossy_deterministic_and_rejects_unknown_codec(music, ffmpeg):
    a = d.lossy(music, SR, np.random.default_rng(5), "mp3")
    b = d.lossy(music, SR, np.random.default_rng(5), "mp3")
    np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="mp3, aac"):
        d.lossy(music, SR, np.random.default_rng(0), "ogg")


# ------------------------------------------------------------------------------------- reverb


def _rt60(x, sr, start):
    """RT60 from the Schroeder energy decay curve after ``start``, fitted from -5 to -25 dB."""
    energy = x[start:].astype(np.float64) ** 2
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    fit = (edc_db <= -5) & (edc_db >= -25)
    slope, _ = np.polyfit(np.arange(len(edc_db))[fit] / sr, edc_db[fit], 1)
    return -60.0 / slope


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_reverb_decay_follows_drawn_rt60(seed):
    at = int(0.1 * SR)
    click = np.zeros(int(3.2 * SR), np.float32)
    click[at] = 0.9
    params = d.draw_params("reverb", np.random.default_rng(seed))
    out = d.reverb(click, SR, np.random.default_rng(seed))
    assert out.dtype == np.float32 and out.shape == click.shape and np.max(np.abs(out)) <= 1.0
    assert np.max(np.abs(out[:at])) < 1e-6  # causal (up to FFT round-off)
    measured = _rt60(out, SR, at + 1)  # the tail, without the dry click
    assert measured == pytest.approx(params["rt60_s"], rel=0.3)


def test_reverb_rt60_override_orders_decays():
    click = np.zeros(3 * SR, np.float32)
    click[0] = 1.0
    short = _rt60(d.reverb(click, SR, np.random.default_rng(0), rt60_s=0.4), SR, 1)
    long = _rt60(d.reverb(click, SR, np.random.default_rng(0), rt60_s=2.0), SR, 1)
    assert short == pytest.approx(0.4, rel=0.3) and long == pytest.approx(2.0, rel=0.3)


# ------------------------------------------------------------------------------------ eq_tilt


def _measured_tilt(x, y, sr):
    f, p_in = signal.welch(x, sr, nperseg=4096)
    _, p_out = signal.welch(y, sr, nperseg=4096)
    band = (f >= 100) & (f <= 0.9 * sr / 2)
    pos = np.log(f[band] / d.EQ_TILT_LO_HZ) / np.log(sr / 2 / d.EQ_TILT_LO_HZ)
    slope, _ = np.polyfit(pos, 10 * np.log10(p_out[band] / p_in[band]), 1)
    return slope  # dB from EQ_TILT_LO_HZ to Nyquist


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_eq_tilt_measured_matches_drawn(seed):
    x = (0.05 * np.random.default_rng(100).standard_normal(4 * SR)).astype(np.float32)
    params = d.draw_params("eq_tilt", np.random.default_rng(seed))
    y = d.eq_tilt(x, SR, np.random.default_rng(seed), shelf_db=0.0)
    assert y.dtype == np.float32 and y.shape == x.shape and np.max(np.abs(y)) <= 1.0
    measured = _measured_tilt(x, y, SR)
    assert np.sign(measured) == np.sign(params["tilt_db"])
    assert measured == pytest.approx(params["tilt_db"], abs=max(0.5, 0.2 * abs(params["tilt_db"])))


@pytest.mark.parametrize("shelf,hz,probe_lo,probe_hi", [("low", 150.0, 60.0, 80.0), ("high", 5000.0, 9000.0, 10000.0)])
def test_eq_shelf_gain(shelf, hz, probe_lo, probe_hi):
    x = (0.05 * np.random.default_rng(100).standard_normal(4 * SR)).astype(np.float32)
    y = d.eq_tilt(x, SR, np.random.default_rng(0), tilt_db=0.0, shelf=shelf, shelf_hz=hz, shelf_db=-6.0)
    f, p_in = signal.welch(x, SR, nperseg=4096)
    _, p_out = signal.welch(y, SR, nperseg=4096)
    band = (f >= probe_lo) & (f <= probe_hi)
    assert 10 * np.log10(p_out[band].sum() / p_in[band].sum()) == pytest.approx(-6.0, abs=1.0)


# -------------------------------------------------------------------------------------- noise


@pytest.mark.parametrize("kind", d.NOISE_KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_noise_snr_matches_drawn(music, kind, seed):
    params = d.draw_params("noise", np.random.default_rng(seed))
    out = d.noise(music, SR, np.random.default_rng(seed), kind=kind)
    assert out.dtype == np.float32 and out.shape == music.shape and np.max(np.abs(out)) <= 1.0
    y, z = music.astype(np.float64), out.astype(np.float64)
    gain = np.dot(z, y) / np.dot(y, y)  # undo a peak scaling, if there was one
    snr = 10 * np.log10(gain**2 * np.dot(y, y) / np.sum((z - gain * y) ** 2))
    assert snr == pytest.approx(params["snr_db"], abs=2.0)


def test_noise_kinds_differ_in_spectrum():
    silence = np.zeros(2 * SR, np.float32)
    white = d.noise(silence, SR, np.random.default_rng(0), kind="white", snr_db=20)
    pink = d.noise(silence, SR, np.random.default_rng(0), kind="pink", snr_db=20)
    crackle = d.noise(silence, SR, np.random.default_rng(0), kind="crackle", snr_db=20)
    assert 0 < _rms(white) < 1e-3  # the noise floor of silence
    f, pw = signal.welch(white, SR, nperseg=2048)
    _, pp = signal.welch(pink, SR, nperseg=2048)
    lo, hi = (f > 100) & (f < 400), (f > 3200) & (f < 6400)
    assert 10 * np.log10(pw[lo].mean() / pw[hi].mean()) == pytest.approx(0, abs=1.5)
    assert 10 * np.log10(pp[lo].mean() / pp[hi].mean()) == pytest.approx(12, abs=2.0)  # 4 octaves at -3 dB
    kurtosis = np.mean(crackle.astype(np.float64) ** 4) / np.mean(crackle.astype(np.float64) ** 2) ** 2
    assert kurtosis > 20  # sparse clicks, not a steady hiss (Gaussian noise: 3)


# ------------------------------------------------------------------------ dispatch and chains


@pytest.mark.parametrize("kind", NON_FFMPEG)
def test_same_seed_same_output(music, kind):
    a = d.degrade(music, SR, kind, np.random.default_rng(11))
    b = d.degrade(music, SR, kind, np.random.default_rng(11))
    c = d.degrade(music, SR, kind, np.random.default_rng(12))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == music.shape


@pytest.mark.parametrize("kind", d.DEGRADATIONS)
def test_hot_input_leaves_peak_at_most_one(music, kind):
    hot = music * np.float32(1.7)
    out = d.degrade(hot, SR, kind, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == hot.shape
    assert np.max(np.abs(out)) <= 1.0


def test_degrade_unknown_name_lists_allowed():
    with pytest.raises(ValueError) as err:
        d.degrade(np.zeros(100, np.float32), SR, "vinyl", np.random.default_rng(0))
    for name in d.DEGRADATIONS:
        assert name in str(err.value)


def test_random_degradation_chain(music, monkeypatch):
    calls = []
    monkeypatch.setattr(d, "_TABLE", {k: (lambda k: lambda y, sr, rng: (calls.append(k), y)[1])(k) for k in d.DEGRADATIONS})
    assert np.array_equal(d.random_degradation(music, SR, np.random.default_rng(0), p=0.0), music)
    assert calls == []
    lengths = set()
    for seed in range(30):
        calls.clear()
        d.random_degradation(music, SR, np.random.default_rng(seed), p=1.0)
        assert len(calls) == d.MAX_CHAIN
        assert calls == sorted(calls, key=d.DEGRADATIONS.index)  # signal-chain order
        assert sum(k in ("mp3", "aac") for k in calls) <= 1  # one codec at most
        calls.clear()
        d.random_degradation(music, SR, np.random.default_rng(seed), p=0.3)
        lengths.add(len(calls))
    assert lengths >= {0, 1, 2}
    with pytest.raises(ValueError, match="allowed"):
        d.random_degradation(music, SR, np.random.default_rng(0), kinds=("master", "tape"))


def test_random_degradation_real_and_deterministic(music):
    a = d.random_degradation(music, SR, np.random.default_rng(4), p=0.8, kinds=NON_FFMPEG)
    b = d.random_degradation(music, SR, np.random.default_rng(4), p=0.8, kinds=NON_FFMPEG)
    assert np.array_equal(a, b) and not np.array_equal(a, music)
    assert a.dtype == np.float32 and a.shape == music.shape and np.max(np.abs(a)) <= 1.0


# ------------------------------------------------------------------------------- training hook


def test_synthetic_clips_degrade_p_reproducible_and_off_by_default(monkeypatch):
    from mvgen.classify.classifier import ClassifierConfig
    from mvgen.training.train import synthetic_clips

    # The codecs (tested above) stand in as a cheap clip here: this test is about the hook, and fast.
    monkeypatch.setitem(d._TABLE, "mp3", d._TABLE["clip"])
    monkeypatch.setitem(d._TABLE, "aac", d._TABLE["clip"])
    config = ClassifierConfig(n_mels=32, cqt_bins=48, channels=[8, 16, 16, 16], window_steps=4)  # 3-s clips
    plain = synthetic_clips([3, 4], config)
    off = synthetic_clips([4], config, degrade_p=0.0)
    on = synthetic_clips([3, 4], config, degrade_p=0.9)
    again = synthetic_clips([4], config, degrade_p=0.9)  # a clip's degradation depends on its seed only
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(plain[2:], off, strict=True))
    assert [c.track_id for c in on] == [c.track_id for c in plain]
    assert all(np.array_equal(a.target, b.target) and a.audio.shape == b.audio.shape for a, b in zip(plain, on))
    assert any(not np.array_equal(a.audio, b.audio) for a, b in zip(plain, on))
    assert all(c.audio.dtype == np.float32 and np.max(np.abs(c.audio)) <= 1.0 for c in on)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(on[2:], again, strict=True))
