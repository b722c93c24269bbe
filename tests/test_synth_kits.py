"""The synth's sampled drum kits, its breakdown parts and its release-like master, on real rendered signals."""

import numpy as np
import pytest
from scipy import signal

from mvgen import synth
from mvgen.delivery.loudness import measure_samples
from mvgen.genres import GENRES
from mvgen.synth.instruments import DRUM_KITS_DIR, KIT_SOUNDS, kit_index, repitch, sampled_kit
from mvgen.synth.patterns import DrawnStyle
from mvgen.synth.recipes import DRUM_KITS
from tests.test_synth import _envelope, _mean_kick_offset_ms

SR = 22050


def _seed_with_kit(style: str, want_sampled: bool = True) -> tuple[int, str]:
    """The first seed whose drawn kit for ``style`` is a sampled one (or the synthesized one)."""
    for seed in range(50):
        kit = DrawnStyle.draw(style, seed).kit
        if (kit != "synth") == want_sampled:
            return seed, kit
    raise AssertionError(f"no seed in 0..49 draws a {'sampled' if want_sampled else 'synthesized'} kit for {style}")


def test_every_kit_has_every_sound_each_starting_at_its_first_sample():
    assert set(kit_index()) == {kit for kits in DRUM_KITS.values() for kit in kits} - {"synth"}
    for kit in kit_index():
        sounds = sampled_kit(kit, SR)
        assert set(sounds) == set(KIT_SOUNDS), kit
        for name, x in sounds.items():
            assert x.dtype == np.float32 and 0.02 * SR < len(x) <= 1.0 * SR, (kit, name, len(x))
            peak = np.abs(x).max()
            assert 0.8 < peak <= 0.91, (kit, name, peak)
            # the onset is the first sample: it is already at 5 % of the peak (quantized to 16 bits); a kick starts
            # on its body, whose first half cycle reaches that within a millisecond
            head = x[: int(0.001 * SR)] if name == "kick" else x[:1]
            assert np.abs(head).max() >= 0.05 * peak - 1 / 32768, (kit, name, x[:4])


def test_the_asset_is_small_and_carries_its_licence():
    files = list(DRUM_KITS_DIR.rglob("*.flac"))
    assert len(files) >= len(KIT_SOUNDS) and sum(f.stat().st_size for f in files) < 600_000
    notice = (DRUM_KITS_DIR / "LICENSE-FluidR3.txt").read_text()
    assert "MIT" in notice and "Frank Wen" in notice


def test_kits_at_another_rate_keep_their_onset_and_length():
    at_22k, at_44k = sampled_kit("tr808", SR)["kick"], sampled_kit("tr808", 44100)["kick"]
    assert abs(len(at_44k) - 2 * len(at_22k)) <= 2
    assert np.argmax(np.abs(at_44k) >= 0.05 * np.abs(at_44k).max()) <= 2


def test_unknown_kit_is_a_value_error_listing_the_kits():
    with pytest.raises(ValueError, match="unknown drum kit 'nine-oh-nine'; valid: standard"):
        sampled_kit("nine-oh-nine", SR)


def test_repitch_shortens_up_and_lengthens_down_from_the_same_start():
    x = np.sin(2 * np.pi * 100 * np.arange(SR) / SR).astype(np.float32)
    up = repitch(x, 12.0)
    assert abs(len(up) - SR / 2) <= 2 and up[0] == x[0]
    f_up = np.argmax(np.abs(np.fft.rfft(up))) * SR / len(up)
    assert f_up == pytest.approx(200, abs=3)
    assert len(repitch(x, -12.0)) == pytest.approx(2 * SR, abs=3)


def test_house_styles_draw_several_kits_the_synthesized_one_among_them():
    for style in GENRES:
        drawn = {DrawnStyle.draw(style, seed).kit for seed in range(30)}
        assert "synth" in drawn and len(drawn) >= 3, (style, drawn)


@pytest.mark.parametrize("style", ["deep_house", "tech_house", "bigroom", "hip_hop"])
def test_a_sampled_kit_puts_its_kicks_on_the_grid(style):
    seed, kit = _seed_with_kit(style)
    y, truth = synth.render_clip(style, seed=seed, sr=SR, duration_s=6.0)
    kicks = truth.events.times_s("kicks")
    assert len(kicks) >= 4
    # the low band rises on the grid sample, averaged over the kicks (which averages out the bass line), as
    # test_synth's kicks on the synthesized kit
    assert abs(_mean_kick_offset_ms(y, kicks)) <= 1.0, kit


def test_sampled_kit_clips_are_deterministic_and_seeds_differ():
    sampled_seed, _ = _seed_with_kit("tech_house", True)
    synth_seed, _ = _seed_with_kit("tech_house", False)
    a, _ = synth.render_clip("tech_house", seed=sampled_seed, sr=SR, duration_s=4.0)
    b, _ = synth.render_clip("tech_house", seed=sampled_seed, sr=SR, duration_s=4.0)
    c, _ = synth.render_clip("tech_house", seed=synth_seed, sr=SR, duration_s=4.0)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_same_seed_same_audio_with_sampled_kits_in_a_stereo_track():
    seed, _ = _seed_with_kit("deep_house")
    arrangement = synth.default_arrangement("deep_house", seed=seed, bars_scale=0.15)
    a, truth_a = synth.render(arrangement, seed=seed, sr=SR)
    b, truth_b = synth.render(arrangement, seed=seed, sr=SR)
    assert np.array_equal(a, b) and truth_a == truth_b


@pytest.fixture(scope="module")
def house_track():
    seed, _ = _seed_with_kit("tech_house")
    return synth.render(synth.default_arrangement("tech_house", seed=seed, bars_scale=0.5), seed=seed, sr=44100)


def test_master_is_club_loud_in_the_drops_and_under_its_true_peak_ceiling(house_track):
    y, truth = house_track
    whole = measure_samples(y, 44100)
    assert whole.true_peak_dbtp <= -0.5
    drops = [s for s in truth.sections if s.label == "drop"]
    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    for drop in drops:
        loudness = measure_samples(y[:, int(drop.start_s * 44100) : int(drop.end_s * 44100)], 44100).integrated_lufs
        assert -11.5 <= loudness <= -6.5, loudness
    quiet = measure_samples(y[:, int(breakdown.start_s * 44100) : int(breakdown.end_s * 44100)], 44100).integrated_lufs
    assert quiet < loudness - 2.0


def test_ambient_masters_much_quieter_than_house_drops():
    house, _ = synth.render_clip("tech_house", seed=1, sr=SR, duration_s=8.0)
    ambient, _ = synth.render_clip("ambient", seed=1, sr=SR, duration_s=8.0)
    # as played on two speakers (dual mono), as releases are measured
    house_lufs = measure_samples(np.stack([house, house]), SR).integrated_lufs
    ambient_lufs = measure_samples(np.stack([ambient, ambient]), SR).integrated_lufs
    assert house_lufs > -11.0 and ambient_lufs < -12.0 and ambient_lufs < house_lufs - 3.0, (ambient_lufs, house_lufs)


def test_breakdowns_open_with_a_crash(house_track):
    y, truth = house_track
    breakdown = next(s for s in truth.sections if s.label == "breakdown")
    crashes = truth.events.times_s("crashes")
    assert np.min(np.abs(crashes - breakdown.start_s)) < 1.0 / 44100 + 1e-9
    # the cymbal band (above 6 kHz) jumps at the crash: the 50 ms after are far louder than the 50 ms before
    high = _envelope(signal.sosfiltfilt(signal.butter(4, 6000, btype="highpass", fs=44100, output="sos"), y[0] + y[1]), 3.0, 44100)
    at, w = int(round(breakdown.start_s * 44100)), int(0.05 * 44100)
    assert high[at : at + w].mean() > 3.0 * high[at - w : at].mean()
