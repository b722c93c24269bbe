"""`mvgen batch`: manifest validation, local parallel runs with a failing track, reruns, and a real local Ray cluster."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mvgen.media.assemble import probe_video, read_video_window
from mvgen.media.audio import write_audio
from mvgen.batch import load_manifest, run_batch
from mvgen.errors import MvgenError
from tests.browser import page_data

MANIFEST = """
output_dir: renders
name: "{track}/{format}_{clip}.mp4"
formats:
  wide: {aspect: "16:9", size: 64, fps: 10}
  tall: {aspect: "9:16", size: 64, fps: 10}
clips:
  teaser: {length_s: 4}
  hook: {length_s: 2, start_s: 3}
tracks:
  - path: "music/*.wav"
  - path: extra/solo.wav
    formats: [tall]
    clips: [hook]
    seed: 3
"""


@pytest.fixture()
def project(tmp_path, synth_track):
    y, _ = synth_track(["deep_house", "bigroom"], seed=8, bars_scale=0.25)
    (tmp_path / "music").mkdir()
    (tmp_path / "extra").mkdir()
    write_audio(tmp_path / "music" / "one.wav", y, 22050)
    shutil.copy(tmp_path / "music" / "one.wav", tmp_path / "extra" / "solo.wav")
    (tmp_path / "music" / "broken.wav").write_text("not audio")
    (tmp_path / "batch.yaml").write_text(MANIFEST)
    return tmp_path


def test_every_problem_is_reported_at_once_before_any_work(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "m.yaml").write_text(
        'name: "../{track}_{fmt}.mp4"\n'
        "formats:\n  wide: {aspect: '4:3'}\n  ok: {size: 64}\n"
        "clips:\n  short: {length_s: -2}\n"
        "tracks:\n  - path: 'nothing/*.wav'\n  - path: a.wav\n    formats: [vine]\n    model: x\n  - {path: a.wav, colour: red}\n"
    )
    with pytest.raises(MvgenError) as info:
        load_manifest(tmp_path / "m.yaml")
    lines = str(info.value).splitlines()
    expected = ["formats.wide.aspect", "clips.short.length_s", "tracks[2].colour", "name: unknown placeholder {fmt}",
                "tracks[0].path: no file matches", "tracks[1].formats: unknown format 'vine'", "tracks[1].model"]
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, lines)
    assert len(lines) == len(expected) and all(line.startswith(f"{tmp_path / 'm.yaml'}: ") for line in lines)
    assert not (tmp_path / "renders").exists()

    (tmp_path / "m.yaml").write_text("classifier: no-such-folder\ntracks:\n  - path: a.wav\n")
    with pytest.raises(MvgenError, match=r"classifier: no such folder \(and not a Hub id like 'owner/name'\): no-such-folder"):
        load_manifest(tmp_path / "m.yaml")
    (tmp_path / "mine").mkdir()
    (tmp_path / "m.yaml").write_text("classifier: mine\ntracks:\n  - path: a.wav\n")
    _, jobs = load_manifest(tmp_path / "m.yaml")  # a folder beside the manifest: every job's analysis uses it
    assert [job.settings.classifier for job in jobs] == [str(tmp_path / "mine")]
    (tmp_path / "m.yaml").write_text('name: "../{track}.mp4"\ntracks:\n  - path: a.wav\n')
    with pytest.raises(MvgenError, match="outside output_dir"):
        load_manifest(tmp_path / "m.yaml")
    (tmp_path / "m.yaml").write_text('name: "same.mp4"\ntracks:\n  - path: a.wav\n  - path: a.wav\n')
    with pytest.raises(MvgenError, match="two outputs would be same.mp4"):
        load_manifest(tmp_path / "m.yaml")


@pytest.mark.slow
def test_local_batch_isolates_failures_and_reruns_skip_finished(project):
    manifest, jobs = load_manifest(project / "batch.yaml")
    assert len(jobs) == 2 * 2 * 2 + 1  # (one, broken) x formats x clips + solo's tall hook
    progress = []
    report = run_batch(project / "batch.yaml", on_progress=lambda d, n, name: progress.append((d, n)))
    by_name = {str(Path(r.output).relative_to(project / "renders")): r for r in report.results}
    done = {k for k, r in by_name.items() if r.status == "done"}
    assert done == {"one/wide_teaser.mp4", "one/wide_hook.mp4", "one/tall_teaser.mp4", "one/tall_hook.mp4", "solo/tall_hook.mp4"}
    failed = [r for r in report.results if r.status == "failed"]
    assert len(failed) == 4 and all("broken.wav: not a recognised audio file" in r.error for r in failed)
    assert progress[-1] == (9, 9)
    fractions = [done for done, _ in progress if done != int(done)]
    assert fractions and all(b >= a for a, b in zip(progress, progress[1:]))  # frame-level, never backwards

    wide = probe_video(project / "renders/one/wide_teaser.mp4")
    tall = probe_video(project / "renders/one/tall_hook.mp4")
    # the teaser is the strongest whole-bar window of at most 4 s (mvgen.clips.best_clip): 2 bars at 121 bpm
    assert (wide.width, wide.height, wide.n_frames) == (114, 64, round(2 * 4 * 60 / 121 * 10))
    assert (tall.width, tall.height, tall.n_frames) == (64, 114, 20)
    saved = json.loads((project / "renders" / "report.json").read_text())
    assert saved["path"] == report.path and len(saved["results"]) == 9
    # the track's page plays every clip, each at its own window in the track (the hook: 3 s to 5 s)
    videos = page_data(project / "renders" / "one.preview.html")["videos"]
    assert sorted(v["src"] for v in videos) == ["one/tall_hook.mp4", "one/tall_teaser.mp4", "one/wide_hook.mp4", "one/wide_teaser.mp4"]
    for v in videos:
        window = read_video_window(project / "renders" / v["src"])
        assert v["window"] == {"start_s": window.start_s, "end_s": window.end_s, "loop": False, "loop_cut_s": 0.0}
        if "hook" in v["src"]:
            assert (window.start_s, window.end_s) == (3.0, 5.0)
        else:  # the teaser: the picker's whole bars, 2 bars of 121 bpm
            assert window.end_s - window.start_s == pytest.approx(2 * 4 * 60 / 121, abs=0.06) and window.start_s > 0

    (project / "renders/one/wide_hook.mp4").unlink()
    again = run_batch(project / "batch.yaml")
    statuses = {str(Path(r.output).relative_to(project / "renders")): r.status for r in again.results}
    assert statuses["one/wide_hook.mp4"] == "done"
    assert sum(s == "skipped" for s in statuses.values()) == 4 and sum(s == "failed" for s in statuses.values()) == 4


@pytest.mark.slow
def test_cli_batch_table_and_exit_status(project, run_cli):
    (project / "music" / "broken.wav").unlink()
    result = run_cli("batch", project / "batch.yaml", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "5 rendered, 0 already there, 0 failed" in result.stdout
    (project / "music" / "broken.wav").write_text("not audio")
    failed = run_cli("batch", project / "batch.yaml")
    assert failed.returncode == 1 and "5 already there, 4 failed" in failed.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ray_executor_on_a_local_cluster(project, run_cli):
    pytest.importorskip("ray")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    env_args = ["--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"]
    started = subprocess.run([ray_cli, "start", "--head", f"--port={port}", *env_args], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    try:
        result = run_cli("batch", project / "batch.yaml", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", timeout=600)
        assert result.returncode == 1, result.stderr  # the broken track fails, the rest are rendered
        assert "5 rendered, 0 already there, 4 failed" in result.stdout
        report = json.loads((project / "renders" / "report.json").read_text())
        assert report["executor"] == "ray"
        assert probe_video(project / "renders/solo/tall_hook.mp4").n_frames == 20
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


def test_example_manifest_is_valid():
    manifest, jobs = load_manifest(Path(__file__).resolve().parent.parent / "examples" / "batch.yaml")
    assert [Path(j.output).name for j in jobs] == ["demo_youtube_full.mp4", "demo_reels_teaser.mp4", "demo_square_hook.mp4"]
    assert jobs[1].settings.clip_s == 15 and jobs[2].settings.end_s == 54


def _tiny_project(tmp_path, synth_track, clips: str) -> Path:
    y, _ = synth_track(["deep_house", "bigroom"], seed=8, bars_scale=0.25)
    write_audio(tmp_path / "one.wav", y, 22050)
    (tmp_path / "b.yaml").write_text(f"formats:\n  tiny: {{size: 64, fps: 30}}\nclips:\n{clips}tracks:\n  - path: one.wav\n")
    return tmp_path / "b.yaml"


@pytest.mark.slow
def test_a_job_whose_output_is_being_written_elsewhere_fails_alone(tmp_path, synth_track):
    """Another render holding an output (here: this process, as a second `mvgen batch` on the same
    manifest would) fails that job with the one-line reason; the other job is rendered."""
    import os

    from mvgen.workspace import output_lock

    manifest = _tiny_project(tmp_path, synth_track, "  a: {length_s: 1, start_s: 0}\n  b: {length_s: 1, start_s: 2}\n")
    busy = tmp_path.resolve() / "renders" / "one_tiny_a.mp4"
    with output_lock(busy):
        report = run_batch(manifest, workers=1)
    by_name = {Path(r.output).name: r for r in report.results}
    assert by_name["one_tiny_a.mp4"].status == "failed" and not busy.exists()
    assert by_name["one_tiny_a.mp4"].error == f"{busy}: another mvgen render (pid {os.getpid()}) is writing this video; wait for it or choose another output"
    assert by_name["one_tiny_b.mp4"].status == "done" and probe_video(tmp_path / "renders" / "one_tiny_b.mp4").n_frames == 30


@pytest.mark.slow
def test_sigterm_stops_the_batch_and_its_workers(tmp_path, synth_track):
    """A real SIGTERM to the `mvgen batch` process alone: exit 143 with one line, every worker and
    encoder ended, the finished chunks kept; running the batch again completes the video."""
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    manifest = _tiny_project(tmp_path, synth_track, "  long: {length_s: 20, start_s: 0}\n")
    work_manifest = tmp_path / "renders" / ".one_tiny_long.mp4.work" / "manifest.json"
    args = [sys.executable, "-m", "mvgen", "batch", str(manifest), "--jobs", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    descendants = []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(work_manifest.read_text())["done"]:
                descendants = psutil.Process(proc.pid).children(recursive=True)
                if any("ffmpeg" in p.name() for p in descendants):
                    break
        except (OSError, ValueError, psutil.Error):
            pass
        time.sleep(0.05)
    assert proc.poll() is None and descendants, proc.communicate() if proc.poll() is not None else "no encoder seen"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1].startswith("mvgen: interrupted; run the same command to continue") and "Traceback" not in stderr
    _, alive = psutil.wait_procs(descendants, timeout=5)
    assert not alive, [p.name() for p in alive]
    done = json.loads(work_manifest.read_text())["done"]
    assert done and not list((tmp_path / "renders").glob("**/*.part*"))

    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert probe_video(tmp_path / "renders" / "one_tiny_long.mp4").n_frames == 600
