"""`mvgen render` end to end: real frames, real encodes, probed output, beat sync, resume."""

import json
import subprocess

import numpy as np
import pytest

from mvgen.media import assemble
from mvgen.analysis.track import analyze
from mvgen.errors import MvgenError
from mvgen.media.assemble import probe_video
from mvgen.settings import RenderSettings
from mvgen.workspace import StaleWorkError
from mvgen.pipeline import render_video
from tests.videos import gray_frames, interrupt_then_resume

FPS = 30.0


@pytest.fixture(scope="module")
def track(house_wav):
    return house_wav


def test_inputs_are_checked_before_the_output_is_locked_or_the_track_analyzed(tmp_path):
    """A bad style file fails a render before its track is read; a track that is not audio fails it before
    the output's folder is made (the lock makes it) and anything is written."""
    notes = tmp_path / "notes.wav"
    notes.write_text("these are my notes, not audio\n" * 50)
    styles = tmp_path / "bad.yaml"
    styles.write_text("genre: deep_house\npalette:\n  colors: ['#ff0000', 'red']\n")
    with pytest.raises(MvgenError, match=r"bad\.yaml:3: palette\.colors\.1: 'red' is not a hex colour"):
        render_video(notes, tmp_path / "out" / "v.mp4", RenderSettings(styles=str(styles)))
    with pytest.raises(MvgenError, match=r"notes\.wav: not a recognised audio file"):
        render_video(notes, tmp_path / "out" / "v.mp4", RenderSettings())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "notes.wav"]


@pytest.mark.slow
def test_excerpt_is_frame_exact_and_synced(track, tmp_path):
    settings = RenderSettings(size=90, fps=FPS, start_s=4.0, end_s=14.0, chunk_frames=100)
    video = render_video(track, tmp_path / "v.mp4", settings)
    info = probe_video(video)
    assert (info.width, info.height, info.fps) == (160, 90, FPS)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p" and info.audio_codec == "aac"
    assert info.colour == "tv, bt709"  # the renderer's own Y'CbCr, tagged, through concatenation and mux
    assert info.n_frames == 300
    assert abs(info.duration_s - 10.0) <= 1.0 / FPS + 0.01
    assert not (tmp_path / ".v.mp4.work").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]

    # Sync: around every beat the brightest frame is the beat's frame (within one frame).
    brightness = gray_frames(video, 160, 90).mean(axis=(1, 2))
    analysis = analyze(track)
    beats = [b for b in analysis.beats_s if 4.2 <= b <= 13.8]
    assert len(beats) >= 15
    for beat in beats:
        k = int(round((beat - 4.0) * FPS))
        peak = k - 3 + int(np.argmax(brightness[k - 3 : k + 4]))
        assert abs(peak - k) <= 1, (beat, brightness[k - 3 : k + 4])


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_video(track, tmp_path):
    settings = RenderSettings(size=64, fps=FPS, start_s=2.0, end_s=8.0, chunk_frames=50)
    whole = render_video(track, tmp_path / "whole.mp4", settings)

    resumed = interrupt_then_resume(track, tmp_path / "resumed.mp4", settings, after_frames=120)
    assert probe_video(resumed).n_frames == probe_video(whole).n_frames == 180
    np.testing.assert_array_equal(gray_frames(resumed, 114, 64), gray_frames(whole, 114, 64))


@pytest.mark.slow
def test_resume_refuses_work_made_otherwise(track, tmp_path, monkeypatch):
    """Chunks made with other settings, or by other encoder settings (an upgrade between the
    interruption and --resume), are never joined to new ones: stream copy needs them identical."""
    settings = RenderSettings(size=64, fps=FPS, end_s=4.0, chunk_frames=30)
    out = tmp_path / "v.mp4"

    def interrupt(done, total):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(track, out, settings, on_progress=interrupt)
    with pytest.raises(StaleWorkError, match="other settings"):
        render_video(track, out, settings.model_copy(update={"seed": 1}), resume=True)
    monkeypatch.setattr(assemble, "VIDEO_CODEC", [*assemble.VIDEO_CODEC[:-len(assemble.COLOUR_TAGS)]])
    with pytest.raises(StaleWorkError, match="other settings"):
        render_video(track, out, settings, resume=True)
    monkeypatch.undo()
    assert probe_video(render_video(track, out, settings, resume=True)).n_frames == 120


@pytest.mark.slow
@pytest.mark.parametrize("aspect, size", [("9:16", (64, 114)), ("1:1", (64, 64))])
def test_aspect_presets(track, tmp_path, aspect, size):
    video = render_video(track, tmp_path / "a.mp4", RenderSettings(size=64, fps=15, aspect=aspect, end_s=2.0))
    info = probe_video(video)
    assert (info.width, info.height) == size and info.n_frames == 30


@pytest.mark.slow
def test_clip_is_around_the_first_drop(track, tmp_path):
    from mvgen.clips import clip_window

    analysis = analyze(track)
    settings = RenderSettings(size=64, fps=15, clip_s=6.0)
    window = clip_window(analysis, settings)
    start, end = window.start_s, window.end_s
    # a clip (--clip, --teaser) is picked by mvgen.clips.best_clip: whole bars from downbeat to downbeat, at
    # most the length asked for (3 bars, 5.76 s at 125 bpm), where it used to be exactly 6 s
    bar_s = 4 * 60.0 / analysis.tempo_bpm
    assert 6.0 - bar_s < end - start <= 6.0 and start in analysis.downbeats_s and end in analysis.downbeats_s
    assert start <= analysis.drops[0].start_s <= end
    info = probe_video(render_video(track, tmp_path / "t.mp4", settings))
    assert info.n_frames == round((end - start) * 15)


@pytest.mark.slow
def test_cli_render_and_bad_input(track, tmp_path, run_cli):
    out = tmp_path / "cli.mp4"
    result = run_cli("render", track, "--out", out, "--size", "64", "--fps", "10", "--end", "3")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and probe_video(out).n_frames == 30
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    failed = run_cli("render", bad)
    assert failed.returncode == 1 and failed.stderr.strip().splitlines() == [f"mvgen: error: {bad}: not a recognised audio file"]
    assert not list(tmp_path.glob("notes*.mp4"))


@pytest.mark.slow
def test_cli_ctrl_c_then_resume(track, tmp_path):
    """A real SIGINT to the process group (what a terminal's Ctrl-C sends) mid-render: exit 130,
    one line saying how to resume, no output file; --resume then finishes the same video."""
    import os
    import signal
    import sys
    import time

    out = tmp_path / "c.mp4"
    args = [sys.executable, "-m", "mvgen", "render", str(track), "-o", str(out), "--size", "64", "--fps", "30", "--no-compile"]
    manifest = tmp_path / ".c.mp4.work" / "manifest.json"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(manifest.read_text())["done"]:
                break  # a chunk is finished
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "mvgen: interrupted; run the same command with --resume to continue"
    assert not out.exists() and manifest.is_file()

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    info = probe_video(out)
    duration_s = analyze(track).duration_s
    assert abs(info.n_frames - duration_s * 30) <= 1
    assert not manifest.parent.exists()


def _render_args(track, out, *extra):
    import sys

    return [sys.executable, "-m", "mvgen", "render", str(track), "-o", str(out), "--size", "64", "--fps", "30", "--no-compile", *map(str, extra)]


def _wait_for_a_finished_chunk(proc, manifest, timeout_s=180.0):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(manifest.read_text())["done"]:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no chunk finished: {proc.poll()=} {proc.communicate() if proc.poll() is not None else ''}")


def _children(pid: int) -> list:
    """The processes whose parent is ``pid``, as (pid, start time) so a reused pid is not mistaken for them."""
    try:
        import psutil
    except ImportError:
        from pathlib import Path

        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(stat.parent.name), fields[19]))
        return found
    return [(c.pid, c.create_time()) for c in psutil.Process(pid).children()]


def _alive(child) -> bool:
    pid, started = child
    try:
        import psutil
    except ImportError:
        from pathlib import Path

        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[19] == started and fields[0] != "Z"
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_two_writers_of_one_output(track, tmp_path):
    """Two real `mvgen render` processes on one output: the one that holds it finishes an intact video;
    the other (with --resume or not) exits 1 at once with one line naming the output and the holder."""
    out = tmp_path / "same.mp4"
    # drawn larger and longer than the others, so it is still drawing while they start (a 64 px render of
    # 20 s ends first; a chunk is recorded as finished once the next one is drawn, so 40 s leaves 3 to draw)
    first = subprocess.Popen(_render_args(track, out, "--end", 40, "--size", 180), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_a_finished_chunk(first, tmp_path / ".same.mp4.work" / "manifest.json")
    others = [subprocess.Popen(_render_args(track, out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for extra in ([], ["--resume"])]
    refused = [other.communicate(timeout=120) for other in others]
    assert first.poll() is None, "the first render finished before the others tried: no race was tested"
    for other, (stdout, stderr) in zip(others, refused):
        assert other.returncode == 1, stderr
        assert stderr.strip().splitlines() == [f"mvgen: error: {out}: another mvgen render (pid {first.pid}) is writing this video; wait for it or choose another output"]
        assert "Traceback" not in stderr and not stdout.strip()
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    info = probe_video(out)
    assert info.n_frames == 1200 and abs(info.duration_s - 40.0) <= 1 / 30 + 0.01 and info.audio_codec == "aac"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.mp4"]  # no work folder, lock or temporary left


@pytest.mark.slow
def test_output_lock_is_released_when_its_holder_dies(tmp_path):
    """A holder killed outright (SIGKILL: no cleanup at all) does not block the next render."""
    import sys

    from mvgen.workspace import OutputBusyError, output_lock

    out = tmp_path / "v.mp4"
    code = f"from mvgen.workspace import output_lock; import sys, time\nwith output_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusyError, match=rf"another mvgen render \(pid {holder.pid}\) is writing this video"):
            with output_lock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(out):
        assert (tmp_path / ".v.mp4.lock").is_file()
    assert not (tmp_path / ".v.mp4.lock").exists()


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_resume_completes(track, tmp_path):
    """A real SIGTERM to the render process alone (what timeout, systemd, Kubernetes and Ray send):
    exit 143 with the resume line, no encoder left running, finished chunks kept; --resume then gives
    the video an uninterrupted render gives."""
    import signal
    import time

    out = tmp_path / "t.mp4"
    work = tmp_path / ".t.mp4.work"
    proc = subprocess.Popen(_render_args(track, out, "--end", 20), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_a_finished_chunk(proc, work / "manifest.json")
    children = []
    for _ in range(200):  # the next chunk's encoder starts right after the manifest is saved
        children = _children(proc.pid)
        if children:
            break
        time.sleep(0.01)
    assert children, "no encoder running"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "mvgen: interrupted; run the same command with --resume to continue"
    assert "Traceback" not in stderr
    assert not [c for c in children if _alive(c)], "an encoder outlived the render"
    done = json.loads((work / "manifest.json").read_text())["done"]
    assert done and all((work / f"chunk{c:05d}.mp4").is_file() for c in done)
    assert not out.exists() and not list(tmp_path.glob("**/*.part*")) and not (tmp_path / ".t.mp4.lock").exists()

    resumed = subprocess.run([*_render_args(track, out, "--end", 20), "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = render_video(track, tmp_path / "whole.mp4", RenderSettings(size=64, fps=30, end_s=20, compile=False))
    got, expected = probe_video(out), probe_video(whole)
    assert got.n_frames == expected.n_frames == 600 and got.duration_s == expected.duration_s
    np.testing.assert_array_equal(gray_frames(out, 114, 64), gray_frames(whole, 114, 64))
    assert not work.exists()


@pytest.mark.slow
def test_disk_full_keeps_the_chunks_and_resume_completes(track, tmp_path, monkeypatch):
    """The encoder's writes fail with ENOSPC on the third chunk: one line saying so and how to go on,
    the finished chunks kept, no output; --resume after space is freed completes the video."""
    import errno

    from mvgen import pipeline as render
    from mvgen.errors import MvgenError

    class FullDisk(render.ChunkWriter):
        def write(self, frames):
            if self.path.name == "chunk00002.mp4":
                raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
            super().write(frames)

    settings = RenderSettings(size=64, fps=FPS, end_s=5.0, chunk_frames=40)
    out = tmp_path / "d.mp4"
    work = tmp_path / ".d.mp4.work"
    monkeypatch.setattr(render, "ChunkWriter", FullDisk)
    with pytest.raises(MvgenError) as info:
        render_video(track, out, settings)
    assert str(info.value) == f"{out}: the disk is full (No space left on device); free some space and run the same command with --resume to continue"
    assert json.loads((work / "manifest.json").read_text())["done"] == [0, 1]
    assert sorted(p.name for p in work.iterdir()) == ["chunk00000.mp4", "chunk00001.mp4", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.mp4.work"]  # no output, lock or temporary file

    monkeypatch.undo()  # space freed
    assert probe_video(render_video(track, out, settings, resume=True)).n_frames == 150


@pytest.mark.slow
def test_a_really_full_disk(track, tmp_path):
    """The same on a real small file system (tmpfs, where this machine lets the tests mount one):
    whichever write meets the full disk, one line, no output, and --resume completes once space is freed."""
    import os
    import shutil

    from mvgen.errors import MvgenError

    small = tmp_path / "small"
    small.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root rights")
    try:
        stats = os.statvfs(small)
        filler = small / "filler"
        filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 96 * 1024))  # room for a few chunks, not the video
        settings = RenderSettings(size=64, fps=FPS, end_s=10.0, chunk_frames=30)
        out = small / "v.mp4"
        with pytest.raises(MvgenError) as info:
            render_video(track, out, settings)
        message = str(info.value)
        assert len(message.splitlines()) == 1 and message.startswith(f"{out}: ") and ("No space left on device" in message), message
        assert not out.exists() and not list(small.glob("**/*.part*"))
        filler.unlink()  # space freed
        assert probe_video(render_video(track, out, settings, resume=True)).n_frames == 300
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
