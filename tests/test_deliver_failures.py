"""One deliverable failing never takes the others down: every one is attempted, each failure is
reported with its reason (the result, the file beside the video, the checks, the CLI's table and exit
status, the batch report, the preview page), and an interruption still stops everything."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import mvgen.delivery.deliverables as deliverables
from mvgen.delivery.deliverables import DeliverableOptions, check_deliverables, check_file, failures_path, make_deliverables, recorded_failures
from mvgen.delivery.loudness import measure_loudness
from mvgen.errors import MvgenError
from mvgen.interrupts import Terminated
from mvgen.media.assemble import MP4_LAYOUT, AudioEncoding
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.report.preview import deliverables_html

ALL = DeliverableOptions(loudness=-20, thumbnail=True, preview_loop="webp")


@pytest.fixture
def video(tmp_path):
    """A 4 s 160x90 test pattern with a 440 Hz tone, encoded as mvgen encodes its videos."""
    path = tmp_path / "v.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                    "-pix_fmt", "yuv420p", *AudioEncoding().args(), *MP4_LAYOUT, "-shortest", str(path)], check=True)
    return path


def _failing(message: str):
    def fail(*args, **kwargs):
        raise MvgenError(message)

    return fail


def test_a_failing_deliverable_is_reported_and_the_others_are_made(video, monkeypatch):
    # the thumbnail fails for real (a folder is where its file must go: an OSError), the loop with a bug
    # (an exception no deliverable raises on purpose); the normalized copy is still written after them
    video.with_suffix(".thumbnail.jpg").mkdir()

    def buggy_loop(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(deliverables, "loop_preview", buggy_loop)
    made = make_deliverables(video, None, ALL)
    assert made.loudness is not None and made.normalized is not None and made.normalized.path.is_file()
    assert measure_loudness(made.normalized.path).integrated_lufs == pytest.approx(-20, abs=1.0)
    assert made.thumbnail is None and made.preview_loop is None
    thumbnail, loop = made.failures
    assert (thumbnail.kind, thumbnail.path) == ("thumbnail", video.with_suffix(".thumbnail.jpg"))
    assert thumbnail.problem == f"Is a directory: {video.with_suffix('.thumbnail.jpg')}" and isinstance(thumbnail.error, IsADirectoryError)
    assert (loop.kind, loop.path, loop.problem) == ("loop", video.with_suffix(".loop.webp"), "internal error: ZeroDivisionError: float division by zero")
    assert isinstance(loop.error, ZeroDivisionError)
    # recorded beside the video, so a later `mvgen preview --video` and a batch rerun show them
    saved = json.loads(failures_path(video).read_text())
    assert [(f["kind"], f["file"], f["problem"]) for f in saved["failures"]] == [("thumbnail", "v.thumbnail.jpg", thumbnail.problem), ("loop", "v.loop.webp", loop.problem)]
    assert recorded_failures(video) == made.failures
    checked = {d.path.name: d for d in check_deliverables(video)}
    assert set(checked) == {"v.mp4", "v.-20LUFS.mp4", "v.thumbnail.jpg", "v.loop.webp"}  # the list is no deliverable
    assert checked["v.mp4"] == check_file(video, video) and checked["v.-20LUFS.mp4"].passed  # the video's own checks only (this one is no mvgen render)
    for name, failure in (("v.thumbnail.jpg", thumbnail), ("v.loop.webp", loop)):
        assert not checked[name].passed and [(c.name, c.why) for c in checked[name].checks if not c.passed] == [("written", failure.problem)]

    # made again with nothing failing: all written, and the list of failures is gone
    video.with_suffix(".thumbnail.jpg").rmdir()
    monkeypatch.undo()
    again = make_deliverables(video, None, ALL)
    assert again.failures == () and not failures_path(video).exists()
    assert [d.passed for d in check_deliverables(video) if d.kind != "video"] == [True] * 3


def test_a_failed_loudness_measurement_still_lets_every_file_be_tried(video, monkeypatch):
    monkeypatch.setattr(deliverables, "measure_loudness", _failing("ebur128 broke"))
    made = make_deliverables(video, None, DeliverableOptions(thumbnail=True))
    assert made.loudness is None and made.thumbnail is not None and made.thumbnail.path.is_file()
    (failure,) = made.failures
    assert (failure.kind, failure.path, failure.problem) == ("loudness", video, "ebur128 broke")
    (checked_video,) = [d for d in check_deliverables(video) if d.kind == "video"]
    assert checked_video.checks == (*check_file(video, video).checks, failure.check()) and failure.check().name == "loudness measured"


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, Terminated])
def test_an_interruption_is_no_deliverable_failure(video, monkeypatch, interruption):
    made = []

    def interrupted(*args, **kwargs):
        raise interruption()

    monkeypatch.setattr(deliverables, "best_thumbnail", interrupted)
    monkeypatch.setattr(deliverables, "loop_preview", lambda *a, **k: made.append("loop"))
    with pytest.raises(interruption):
        make_deliverables(video, None, ALL)
    assert made == [] and not failures_path(video).exists()  # stopped there: nothing after it, nothing recorded


def test_a_file_that_cannot_be_checked_fails_its_check_and_the_others_are_listed(video):
    video.with_suffix(".thumbnail.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    checked = {d.kind: d for d in check_deliverables(video)}
    assert checked["video"] == check_file(video, video)
    (bad,) = [c for c in checked["thumbnail"].checks if not c.passed]
    assert bad.name == "readable" and "UnidentifiedImageError" in bad.why


def test_an_older_file_of_a_failed_deliverable_is_not_passed_off_as_this_runs(video, monkeypatch):
    make_deliverables(video, None, DeliverableOptions(thumbnail=True))
    monkeypatch.setattr(deliverables, "best_thumbnail", _failing("no frames decoded"))
    make_deliverables(video, None, DeliverableOptions(thumbnail=True))
    (thumbnail,) = [d for d in check_deliverables(video) if d.kind == "thumbnail"]
    assert [c.name for c in thumbnail.checks if c.passed] == ["format", "picture", "file size"]  # the old file is fine...
    assert not thumbnail.passed and thumbnail.checks[-1].why == "no frames decoded"  # ...but it is not this run's


def test_the_preview_page_lists_a_failed_deliverable_in_red_with_its_reason(video, monkeypatch, tmp_path):
    monkeypatch.setattr(deliverables, "best_thumbnail", _failing("no frames <decoded>"))
    make_deliverables(video, None, DeliverableOptions(thumbnail=True, preview_loop="gif"))
    page = deliverables_html(check_deliverables(video), tmp_path / "page.html")
    rows = {row.split('"', 1)[0]: row for row in page.split('<tr data-kind="')[1:]}
    assert set(rows) == {"video", "thumbnail", "loop"}
    assert 'data-passed="0"' in rows["thumbnail"] and '<span class="bad">&#10007; written: no frames &lt;decoded&gt;</span>' in rows["thumbnail"]
    assert "<img" not in rows["thumbnail"] and '<img src="v.loop.gif"' in rows["loop"]  # no picture where there is no file
    assert 'data-passed="1"' in rows["loop"]


@pytest.mark.slow
def test_cli_render_tries_every_deliverable_then_exits_1_naming_the_failed(tmp_path, house_wav, run_cli):
    # the thumbnail and the loop really fail: folders stand where their files must go
    out = tmp_path / "v.mp4"
    (tmp_path / "v.thumbnail.jpg").mkdir()
    (tmp_path / "v.loop.webp").mkdir()
    result = run_cli("render", house_wav, "-o", out, "--size", "64", "--fps", "10", "--clip", "6", "--loudness", "-16", "--thumbnail", "--preview-loop", "webp")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    printed = " ".join(result.stdout.split())
    assert f"video written to {out}" in printed and f"normalized copy written to {tmp_path / 'v.-16LUFS.mp4'}" in printed
    assert measure_loudness(tmp_path / "v.-16LUFS.mp4").integrated_lufs == pytest.approx(-16, abs=1.0)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip().startswith("v.")}
    assert rows["v.mp4"][1:3] == ["video", "ok"] and rows["v.-16LUFS.mp4"][1:3] == ["normalized", "ok"]
    assert rows["v.thumbnail.jpg"][1:4] == ["thumbnail", "FAILED", "written:"] and rows["v.loop.webp"][1:4] == ["loop", "FAILED", "written:"]
    errors = result.stderr.strip().splitlines()
    assert errors[-3] == f"mvgen: error: thumbnail failed: Is a directory: {tmp_path / 'v.thumbnail.jpg'}"
    assert errors[-2] == f"mvgen: error: loop failed: Is a directory: {tmp_path / 'v.loop.webp'}"
    assert errors[-1] == "mvgen: error: 2 of 4 deliverables failed (thumbnail, loop); the video and the rest were written"
    # the preview page of the video shows them too, red, with their reasons
    page = tmp_path / "page.html"
    shown = run_cli("preview", house_wav, "--video", out, "-o", page)
    assert shown.returncode == 0, shown.stderr
    html = page.read_text()
    assert html.count('data-passed="0"') == 2 and html.count('data-passed="1"') == 2 and html.count('<span class="bad">&#10007; written: Is a directory') == 2


@pytest.mark.slow
def test_batch_reports_a_failed_deliverable_and_keeps_the_video_and_the_rest(tmp_path, house_wav, monkeypatch):
    from mvgen.batch import Job, already_made, analyze_track, render_job, write_track_previews
    from mvgen.settings import RenderSettings

    monkeypatch.setattr(deliverables, "best_thumbnail", _failing("no frames decoded"))
    output = tmp_path / "renders" / "v.mp4"
    job = Job(track=str(house_wav), output=str(output), settings=RenderSettings(size=64, fps=10, clip_s=6, compile=False, detail=0.5),
              format="tiny", clip="teaser", deliverables=ALL)
    result = render_job(job, analyze_track(str(house_wav)))
    assert result.status == "failed" and result.error.startswith("deliverables failed: thumbnail (v.thumbnail.jpg): no frames decoded"), result.error
    assert output.is_file() and result.integrated_lufs is not None
    assert result.files == [str(output.with_name("v.-20LUFS.mp4")), str(output.with_name("v.loop.webp"))]
    verdicts = {d.kind: d.passed for d in result.deliverables}
    assert verdicts == {"video": True, "normalized": True, "loop": True, "thumbnail": False}
    assert result.checks_failed == ["v.thumbnail.jpg: written: no frames decoded"]
    (page,) = write_track_previews([job], [result], tmp_path / "renders")
    assert page.read_text().count('data-passed="0"') == 1
    # a rerun is not skipped: it makes the deliverables again, not the video
    assert not already_made(job)
    monkeypatch.undo()
    rendered_ns = output.stat().st_mtime_ns
    again = render_job(job, analyze_track(str(house_wav)))
    assert again.status == "done" and again.error is None and all(d.passed for d in again.deliverables), again.checks_failed
    assert output.stat().st_mtime_ns == rendered_ns and output.with_name("v.thumbnail.jpg").is_file() and already_made(job)
