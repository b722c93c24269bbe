"""mvgen.delivery.loudness: EBU R128 measurement on signals of known loudness and peak, and constant-gain normalization."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from mvgen.media.assemble import MP4_LAYOUT, AudioEncoding, VideoWindow, read_video_window
from mvgen.media.audio import write_audio
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.errors import MvgenError
from tests.videos import audio_lag_samples
from mvgen.delivery.loudness import MAX_LIMITING_DB, TRUE_PEAK_WARN_DBTP, loudness_curve, measure_loudness, normalize_loudness, normalized_path

SR = 48000
#: ITU-R BS.1770-4's K-weighting at 48 kHz (table 1 and 2): the high shelf, then the high-pass.
K_SHELF = ([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241, 0.73248077421585])
K_HIGHPASS = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])
#: The window tags of the test video (as a render writes them): the normalized copy keeps them.
WINDOW = VideoWindow(12.25, 53.5)


def _bs1770_sine_lufs(amplitude: float, freq_hz: float, channels: int) -> float:
    """Loudness of a steady sine by BS.1770's definition: -0.691 + 10 log10(sum over channels of the K-weighted mean square)."""
    gain = 1.0
    for b, a in (K_SHELF, K_HIGHPASS):
        gain *= abs(signal.freqz(b, a, worN=[freq_hz], fs=SR)[1][0])
    return -0.691 + 10 * np.log10(channels * (amplitude * gain) ** 2 / 2)


@pytest.mark.parametrize("channels", [1, 2])
def test_a_997_hz_sine_measures_its_bs1770_loudness(tmp_path, ffmpeg, channels):
    amplitude = 10 ** (-20 / 20)
    x = amplitude * np.sin(2 * np.pi * 997 * np.arange(10 * SR) / SR)
    path = tmp_path / "sine.wav"
    write_audio(path, np.tile(x, (channels, 1)) if channels > 1 else x, SR, subtype="FLOAT")
    expected = _bs1770_sine_lufs(amplitude, 997, channels)
    assert expected == pytest.approx(-23.01 + 10 * np.log10(channels), abs=0.02)  # the K-weighting at 997 Hz is +0.691 dB
    measured = measure_loudness(path)
    assert measured.integrated_lufs == pytest.approx(expected, abs=0.1)
    assert measured.sample_peak_dbfs == pytest.approx(-20.0, abs=0.1) and measured.true_peak_dbtp == pytest.approx(-20.0, abs=0.1)
    assert measured.lra_lu == pytest.approx(0.0, abs=0.1) and not measured.peak_warning


@pytest.mark.parametrize(("period", "offset_deg", "tolerance_db"), [(6, 30.0, 0.15), (4, 45.0, 1.0)])
def test_true_peak_sees_the_crest_between_samples(tmp_path, ffmpeg, period, offset_deg, tolerance_db):
    """A sine of ``fs / period`` sampled ``offset_deg`` either side of its crests: the sample peak is
    ``cos(offset)`` below the true peak (-1.25 dB and -3.01 dB). At fs/4 (12 kHz) ebur128's 4x interpolator
    reads 0.6-0.9 dB high, depending on the phase (both ffmpegs), hence the looser tolerance there."""
    amplitude = 0.5
    x = amplitude * np.cos(2 * np.pi * np.arange(5 * SR) / period + np.deg2rad(offset_deg))
    path = tmp_path / "tp.wav"
    write_audio(path, x, SR, subtype="FLOAT")
    measured = measure_loudness(path)
    assert measured.sample_peak_dbfs == pytest.approx(20 * np.log10(amplitude * np.cos(np.deg2rad(offset_deg))), abs=0.1)
    assert measured.true_peak_dbtp == pytest.approx(20 * np.log10(amplitude), abs=tolerance_db)
    assert measured.true_peak_dbtp - measured.sample_peak_dbfs > -20 * np.log10(np.cos(np.deg2rad(offset_deg))) - tolerance_db


def test_no_audio_is_none_and_a_missing_file_an_error(tmp_path, ffmpeg):
    video = tmp_path / "canvas.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=1", "-pix_fmt", "yuv420p", str(video)], check=True)
    assert measure_loudness(video) is None and loudness_curve(video) is None
    with pytest.raises(MvgenError, match="no such file"):
        measure_loudness(tmp_path / "missing.mp4")
    with pytest.raises(MvgenError, match="no audio stream"):
        normalize_loudness(video, -14)
    silent = tmp_path / "silent.wav"
    write_audio(silent, np.zeros(2 * SR), SR)
    measured = measure_loudness(silent)
    assert measured.integrated_lufs == -70.0 and measured.true_peak_dbtp == -np.inf and not measured.peak_warning
    with pytest.raises(MvgenError, match="silent: no loudness to normalize"):
        normalize_loudness(silent, -14, out=tmp_path / "n.wav")
    assert not (tmp_path / "n.wav").exists()


@pytest.fixture(scope="module")
def music_video(tmp_path_factory, synth_track):
    """A 64x64 test-pattern video with 41 s of synthetic progressive house encoded as mvgen encodes audio (about -11.6 LUFS, true peak near 0 dBTP)."""
    audio, _ = synth_track("progressive_house", seed=0, bars_scale=0.25, sr=SR)
    folder = tmp_path_factory.mktemp("loud")
    write_audio(folder / "track.wav", np.stack([audio, audio]), SR)  # stereo, as mvgen's videos are
    video = folder / "track.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-i", str(folder / "track.wav"),
                    "-pix_fmt", "yuv420p", *AudioEncoding().args(), *MP4_LAYOUT, *WINDOW.metadata_args(), "-shortest", str(video)], check=True)
    return video


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _video_md5(path) -> str:
    """MD5 of the video stream's packets (equal when the stream was copied)."""
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "md5", "-"], capture_output=True, text=True, check=True).stdout


def _gain_curve_db(original, normalized) -> tuple[np.ndarray, np.ndarray]:
    """``(loudness, change)``: the short-term loudness of ``original`` every 100 ms (LUFS) and how much
    louder ``normalized`` is there (dB), where both windows hold sound."""
    a, b = loudness_curve(original), loudness_curve(normalized)
    n = min(len(a.time_s), len(b.time_s))
    sa, sb = a.short_term_lufs[:n], b.short_term_lufs[:n]
    sounding = (sa > -60) & (sb > -60)
    return sa[sounding], sb[sounding] - sa[sounding]


def test_normalizing_down_is_one_constant_gain_and_leaves_the_original(music_video, ffmpeg, tmp_path):
    original = measure_loudness(music_video)
    assert -14 < original.integrated_lufs < -9 and original.peak_warning  # a loud master, peaking over -1 dBTP
    before_sha, before_video = _sha(music_video), _video_md5(music_video)
    out = tmp_path / "quiet.mp4"
    result = normalize_loudness(music_video, -16, out=out)
    assert result.path == out and not result.limited
    assert result.gain_db == pytest.approx(-16 - original.integrated_lufs)
    after = measure_loudness(out)
    assert after == result.after and after.integrated_lufs == pytest.approx(-16, abs=0.5) and after.true_peak_dbtp <= TRUE_PEAK_WARN_DBTP
    assert _sha(music_video) == before_sha  # untouched
    assert _video_md5(out) == before_video  # the video stream copied, not re-encoded
    assert read_video_window(music_video) == WINDOW and read_video_window(out) == WINDOW  # the copy says where it lies in the track too
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    # in sync: the re-encoded audio starts where the original's does (each encode's priming cut, no edit list)
    assert abs(audio_lag_samples(out, music_video, 0.0)) <= 48  # 1 ms
    # no pumping: the loudness changed by the same gain everywhere (AAC and 0.1 LU rounding aside)
    change = _gain_curve_db(music_video, out)[1] - result.gain_db
    assert np.ptp(np.percentile(change, [5, 95])) < 0.3 and np.abs(change).max() < 0.4, np.percentile(change, [0, 5, 50, 95, 100])


def test_the_pumping_check_catches_loudnorms_dynamic_mode(music_video, ffmpeg, tmp_path):
    """What the check above forbids: ffmpeg's loudnorm in its dynamic mode moves the gain by several dB."""
    dynamic = tmp_path / "dynamic.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(music_video), "-c:v", "copy", "-af", "loudnorm=I=-16:TP=-1", *AudioEncoding().args(), *MP4_LAYOUT, str(dynamic)], check=True)
    change = _gain_curve_db(music_video, dynamic)[1]
    assert np.ptp(np.percentile(change, [5, 95])) > 2.0


def test_normalizing_up_limits_only_the_peaks(music_video, ffmpeg, tmp_path):
    original = measure_loudness(music_video)
    target = round(original.integrated_lufs) + 2.0  # louder: the gain would push the true peak over the ceiling
    result = normalize_loudness(music_video, target)
    assert result.path == normalized_path(music_video, target) and result.path.name == f"track.{target:g}LUFS.mp4"
    assert result.limited and result.gain_db >= target - original.integrated_lufs
    after = measure_loudness(result.path)
    # within the promised 1 LU: this synthetic track's noise-like hi-hats (flat to 24 kHz, unlike real masters) make AAC
    # overshoot its limited peaks by 1-2 dB, and the lower ceiling that takes leaves the bundled ffmpeg about 0.6 LU short
    assert after.integrated_lufs == pytest.approx(target, abs=1.0)
    assert after.true_peak_dbtp <= TRUE_PEAK_WARN_DBTP
    loudness, change = _gain_curve_db(music_video, result.path)
    change -= result.gain_db
    assert change.max() < 0.3  # the limiter only ever takes away: nothing is louder than the one gain makes it
    # in the quietest quarter (where the limiter has little to do) the gain is the constant one
    quiet = loudness <= np.percentile(loudness, 25)
    assert np.median(change[quiet]) > -0.5, np.percentile(change, [0, 5, 50, 95, 100])
    result.path.unlink()


#: Real masters (tests/data/masters/README.md): quiet and dynamic, typical (peaks over 0 dBFS, as issue 23's MP3), loud.
MASTERS = Path(__file__).parent / "data" / "masters"


@pytest.fixture(scope="module")
def master_videos(tmp_path_factory):
    """Each real master in a 64x64 test-pattern video, its audio encoded as mvgen encodes it (48 kHz stereo AAC, no edit list)."""
    folder = tmp_path_factory.mktemp("masters")
    videos = {}
    for name in ("quiet_dynamic.ogg", "typical_clipping.mp3", "loud.ogg"):
        videos[name] = folder / f"{Path(name).stem}.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-i", str(MASTERS / name), "-pix_fmt", "yuv420p",
                        "-ar", str(SR), *AudioEncoding().args(), *MP4_LAYOUT, "-shortest", str(videos[name])], check=True)
    return videos


@pytest.mark.parametrize(("name", "plr_range_db", "limited_at_14"), [
    ("quiet_dynamic.ogg", (15.0, 19.0), True),  # about -24 LUFS: -14 needs about 4 dB of peak limiting
    ("typical_clipping.mp3", (13.0, 17.0), True),  # about -15.5 LUFS with peaks near 0 dBTP, like the master
    ("loud.ogg", (7.0, 10.0), False),  # about -8 LUFS: turned down, nothing to limit
])
def test_real_masters_reach_the_target_under_the_ceiling_in_sync(master_videos, ffmpeg, tmp_path, name, plr_range_db, limited_at_14):
    video = master_videos[name]
    before = measure_loudness(video)
    assert plr_range_db[0] < before.true_peak_dbtp - before.integrated_lufs < plr_range_db[1]  # the crest factor this master stands for
    for target in (-14.0, -16.0):
        out = tmp_path / f"{target:g}.mp4"
        result = normalize_loudness(video, target, out=out)
        after = measure_loudness(out)  # the written AAC file
        assert after == result.after and after.integrated_lufs == pytest.approx(target, abs=0.5), (name, target, result)
        assert after.true_peak_dbtp <= TRUE_PEAK_WARN_DBTP
        # the limiting is what the gain needs: the peak reduction follows from the original's true peak, the gain and the ceiling
        assert 0 <= result.limited_db <= MAX_LIMITING_DB
        if result.limited:
            assert result.limited_db == pytest.approx(before.true_peak_dbtp + result.gain_db - TRUE_PEAK_WARN_DBTP, abs=1.0)
        else:
            assert result.gain_db == pytest.approx(target - before.integrated_lufs, abs=0.05)
        if target == -14.0:
            assert result.limited == limited_at_14, result
            assert result.describe() == f"gain {result.gain_db:+.1f} dB" + (f", peaks limited by {result.limited_db:.1f} dB" if limited_at_14 else "")
        assert abs(audio_lag_samples(out, video, 0.0)) <= 48  # in sync: within 1 ms
        # a constant gain: where the limiter has little to do (the quietest quarter) the loudness moved by the gain
        loudness, change = _gain_curve_db(video, out)
        quiet = loudness <= np.percentile(loudness, 25)
        assert abs(np.median(change[quiet]) - result.gain_db) < 0.5 and change.max() - result.gain_db < 0.3, np.percentile(change - result.gain_db, [0, 5, 50, 95, 100])


def test_a_target_needing_more_limiting_than_allowed_is_refused(master_videos, tmp_path):
    video = master_videos["quiet_dynamic.ogg"]  # -10 LUFS: about 10 dB over its loudness to peaks near -7 dBTP
    out = tmp_path / "loud.mp4"
    with pytest.raises(MvgenError) as info:
        normalize_loudness(video, -10, out=out)
    message = str(info.value)
    assert message.startswith(f"{video}: reaching -10 LUFS with the true peak at -1 dBTP needs about ") and f"more than the {MAX_LIMITING_DB:g} dB allowed" in message
    needed = float(message.split("needs about ")[1].split(" dB")[0])
    before = measure_loudness(video)
    assert needed == pytest.approx(before.true_peak_dbtp + (-10 - before.integrated_lufs) - TRUE_PEAK_WARN_DBTP, abs=1.5) and needed > MAX_LIMITING_DB
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_targets_are_refused_before_anything_is_written(music_video, tmp_path):
    with pytest.raises(MvgenError, match="target_lufs must be a loudness from -40 to -5 LUFS"):
        normalize_loudness(music_video, 3.0, out=tmp_path / "x.mp4")
    with pytest.raises(MvgenError, match="true_peak_dbtp must be in"):
        normalize_loudness(music_video, -14, out=tmp_path / "x.mp4", true_peak_dbtp=2.0)
    with pytest.raises(MvgenError, match="cannot replace the original"):
        normalize_loudness(music_video, -14, out=music_video)
    assert not list(tmp_path.iterdir())


def test_manifest_deliverable_keys_are_checked_up_front(tmp_path):
    from mvgen.batch import load_manifest

    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "m.yaml").write_text("loudness: 3\ntracks:\n  - {path: a.wav, preview_loop: mp4, loudness: -60}\n")
    with pytest.raises(MvgenError) as info:
        load_manifest(tmp_path / "m.yaml")
    lines = str(info.value).splitlines()
    assert any(line.endswith("m.yaml: loudness: must be a loudness from -40 to -5 LUFS (e.g. -14 for streaming), got 3") for line in lines), lines
    assert any("tracks[0].loudness:" in line and "got -60" in line for line in lines), lines
    assert any("tracks[0].preview_loop: Input should be 'gif' or 'webp'" in line for line in lines), lines
    (tmp_path / "m.yaml").write_text("thumbnail: true\nloudness: -14\ntracks:\n  - {path: a.wav, preview_loop: webp, loudness: -16}\n  - {path: a.wav, thumbnail: false}\n"
                                     "name: '{track}_{clip}_{format}.mp4'\nclips: {a: {}}\n")
    with pytest.raises(MvgenError, match="two outputs"):  # the same track twice: the deliverables do not hide that
        load_manifest(tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text("thumbnail: true\nloudness: -14\ntracks:\n  - {path: a.wav, preview_loop: webp, loudness: -16}\n")
    _, jobs = load_manifest(tmp_path / "m.yaml")
    assert [(j.deliverables.loudness, j.deliverables.thumbnail, j.deliverables.preview_loop) for j in jobs] == [(-16.0, True, "webp")]


@pytest.mark.slow
def test_batch_reports_loudness_and_writes_the_deliverables(tmp_path, synth_track):
    import json

    from mvgen.batch import run_batch

    audio, _ = synth_track("progressive_house", seed=0, bars_scale=0.25, sr=SR)
    write_audio(tmp_path / "one.wav", np.stack([audio, audio]), SR)
    (tmp_path / "b.yaml").write_text("formats:\n  tiny: {size: 64, fps: 10}\nclips:\n  teaser: {length_s: 6}\nthumbnail: true\n"
                                     "tracks:\n  - {path: one.wav, loudness: -16, preview_loop: gif}\n")
    report = run_batch(tmp_path / "b.yaml", workers=1)
    (result,) = report.results
    assert result.status == "done", result.error
    video = tmp_path.resolve() / "renders" / "one_tiny_teaser.mp4"
    measured = measure_loudness(video)
    assert (result.integrated_lufs, result.true_peak_dbtp) == (measured.integrated_lufs, measured.true_peak_dbtp)
    assert [w for w in result.warnings if "true peak" in w] == ([result.warnings[0]] if measured.peak_warning else [])
    expected = [video.with_name("one_tiny_teaser.-16LUFS.mp4"), video.with_name("one_tiny_teaser.thumbnail.jpg"), video.with_name("one_tiny_teaser.loop.gif")]
    assert result.files == [str(p) for p in expected] and all(p.is_file() for p in expected)
    assert result.normalized_lufs == pytest.approx(-16, abs=0.5) == measure_loudness(expected[0]).integrated_lufs
    # the gain and the peak limiting of the copy go in the report
    assert result.normalized_gain_db == pytest.approx(-16 - measured.integrated_lufs, abs=1.0) and 0 <= result.normalized_limited_db <= 6
    saved = json.loads((tmp_path / "renders" / "report.json").read_text())["results"][0]
    assert saved["integrated_lufs"] == result.integrated_lufs and saved["files"] == result.files
    assert (saved["normalized_gain_db"], saved["normalized_limited_db"]) == (result.normalized_gain_db, result.normalized_limited_db)
    # every deliverable is listed with its platform checks, passed or why not
    kinds = {Path(d.path).name: d.kind for d in result.deliverables}
    assert kinds == {video.name: "video", expected[0].name: "normalized", expected[1].name: "thumbnail", expected[2].name: "loop"}
    checks = {(Path(d.path).name, c.name): c for d in result.deliverables for c in d.checks}
    assert checks[(video.name, "GOP")].passed and checks[(video.name, "no edit lists")].passed  # the upload spec, without a preset
    assert checks[(expected[0].name, "loudness")].passed and "target -16" in checks[(expected[0].name, "loudness")].why
    assert checks[(expected[1].name, "picture")].passed and checks[(expected[2].name, "loops forever")].passed
    assert all(d.passed for d in result.deliverables), result.checks_failed
    assert [d["kind"] for d in saved["deliverables"]] == [d.kind for d in result.deliverables]
    # the track's preview page lists them beside its timeline, with their checks
    page = (tmp_path / "renders" / "one.preview.html").read_text()
    for path in [video, *expected]:
        assert f'<a href="{path.name}">{path.name}</a>' in page
    assert page.count('data-passed="1"') == 4 and '<img src="one_tiny_teaser.thumbnail.jpg"' in page
    # a rerun skips the video but still reports its loudness and the files beside it
    (again,) = run_batch(tmp_path / "b.yaml", workers=1).results
    assert again.status == "skipped" and again.integrated_lufs == result.integrated_lufs and sorted(again.files) == sorted(result.files)


@pytest.mark.slow
def test_cli_render_prints_loudness_and_writes_the_deliverables(tmp_path, synth_track, run_cli):
    audio, _ = synth_track("progressive_house", seed=0, bars_scale=0.25, sr=SR)
    track = tmp_path / "one.wav"
    write_audio(track, np.stack([audio, audio]), SR)
    refused = run_cli("render", track, "--loudness", "3", "-o", tmp_path / "x.mp4")
    assert refused.returncode == 1 and refused.stderr.strip() == "mvgen: error: --loudness: must be a loudness from -40 to -5 LUFS (e.g. -14 for streaming), got 3"
    refused = run_cli("render", track, "--preview-loop", "mp4", "-o", tmp_path / "x.mp4")
    assert refused.returncode == 1 and refused.stderr.strip() == "mvgen: error: --preview-loop: Input should be 'gif' or 'webp'"
    assert not list(tmp_path.glob("x*"))  # refused before the analysis and the render

    video = tmp_path / "v.mp4"
    result = run_cli("render", track, "-o", video, "--size", "64", "--fps", "10", "--teaser", "6", "--loudness", "-16", "--thumbnail", "--preview-loop", "webp")
    assert result.returncode == 0, result.stderr
    measured = measure_loudness(video)
    printed = " ".join(result.stdout.split())
    assert f"loudness: {measured.integrated_lufs:.1f} LUFS integrated, true peak {measured.true_peak_dbtp:.1f} dBTP" in printed
    assert ("warning: true peak" in result.stderr) == measured.peak_warning
    normalized = tmp_path / "v.-16LUFS.mp4"
    assert f"normalized copy written to {normalized}" in printed and measure_loudness(normalized).integrated_lufs == pytest.approx(-16, abs=0.5)
    gain = re.search(re.escape(f"normalized copy written to {normalized}: ") + r".*? dBTP \(gain ([+-]\d+\.\d) dB(, peaks limited by (\d+\.\d) dB)?\)", printed)
    assert gain is not None, printed  # the gain and the limiting applied are printed
    assert float(gain.group(1)) == pytest.approx(-16 - measured.integrated_lufs, abs=1.0)
    assert f"thumbnail written to {tmp_path / 'v.thumbnail.jpg'}" in printed and (tmp_path / "v.thumbnail.jpg").is_file()
    assert f"loop written to {tmp_path / 'v.loop.webp'}" in printed and (tmp_path / "v.loop.webp").is_file()
