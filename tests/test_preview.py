"""`mvgen preview`: the page works offline in a real headless Chromium (Debian's chromium + chromedriver).

Without a browser these tests skip, unless MVGEN_REQUIRE_BROWSER=1 (CI sets it, after installing them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mvgen.analysis.track import analyze
from tests.browser import page_data, wait_until
from mvgen.media.audio import write_audio
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.genres import GENRE_NAMES
from mvgen.report.preview import write_preview
from mvgen.style.colors import GENRE_COLORS


@pytest.fixture(scope="module")
def track(tmp_path_factory, synth_track):
    y, truth = synth_track(["deep_house", "bigroom"], seed=12, bars_scale=0.25)
    path = tmp_path_factory.mktemp("preview") / "track.wav"
    write_audio(path, y, 22050)
    return path


@pytest.mark.slow
def test_page_is_self_contained(track, tmp_path):
    page = write_preview(track, tmp_path / "p.html")
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "data:audio/mp4;base64," in text
    with pytest.raises(Exception, match="html"):
        write_preview(track, tmp_path / "p.txt")


@pytest.mark.slow
def test_page_draws_the_timeline_seeks_and_shows_the_profile(track, tmp_path, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    analysis = analyze(track)
    page = write_preview(track, tmp_path / "preview.html", analysis=analysis)
    browser.get(page.as_uri())
    wait_until(lambda: browser.execute_script("return document.getElementById('timeline').dataset.drawn === '1' && window.mvgenPreview !== undefined"))
    wait_until(lambda: browser.execute_script("return document.getElementById('player').readyState >= 1"))  # metadata: seekable
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    # drawn: the profile area shows the genre colours where each genre dominates
    duration = analysis.duration_s
    profile = analysis.genre_profile
    dominant = profile.labels[max(range(8), key=lambda g: profile.probabilities[5][g])]
    late = profile.labels[max(range(8), key=lambda g: profile.probabilities[-5][g])]
    assert dominant != late

    def colour_at(t):
        return browser.execute_script(
            "const c = document.getElementById('timeline'); const px = Math.round(arguments[0] / window.mvgenPreview.duration_s * c.width);"
            "return Array.from(c.getContext('2d').getImageData(px, c.height - 30, 1, 1).data).slice(0, 3);", t)

    def hex_rgb(h):
        return [int(h[i : i + 2], 16) for i in (1, 3, 5)]

    assert colour_at(profile.times_s[5]) == hex_rgb(GENRE_COLORS[dominant])
    assert colour_at(profile.times_s[-5]) == hex_rgb(GENRE_COLORS[late])

    # a click seeks the player to the clicked time
    canvas = browser.find_element(By.ID, "timeline")
    width = canvas.size["width"]
    target = 0.6 * duration
    ActionChains(browser).move_to_element_with_offset(canvas, int(0.6 * width - width / 2), 0).click().perform()
    now = wait_until(lambda: browser.execute_script("const t = document.getElementById('player').currentTime; return t > 0 ? t : null;"))
    assert abs(now - target) < duration / width * 3 + 0.05

    # hovering shows the profile at that moment, dominant sub-genre first
    t_hover = profile.times_s[5]
    ActionChains(browser).move_to_element_with_offset(canvas, int(t_hover / duration * width - width / 2), 10).perform()
    tip = wait_until(lambda: browser.find_element(By.ID, "tip").text)
    assert tip.splitlines()[1].startswith(GENRE_NAMES[dominant])
    assert browser.find_element(By.ID, "tip").is_displayed()
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.slow
def test_preview_with_a_video_links_it(track, tmp_path, browser, run_cli):
    from mvgen.settings import RenderSettings
    from mvgen.pipeline import render_video

    video = render_video(track, tmp_path / "v.mp4", RenderSettings(size=64, fps=10, end_s=3.0))
    result = run_cli("preview", track, "--video", video, "-o", tmp_path / "site" / "p.html")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "site" / "p.html").read_text()
    assert 'src="../v.mp4"' in text and "data:audio" not in text
    browser.get((tmp_path / "site" / "p.html").as_uri())
    wait_until(lambda: browser.execute_script("return document.getElementById('player').readyState >= 1"))
    assert browser.execute_script("return window.mvgenPreview.seek(1.5)") == pytest.approx(1.5, abs=0.11)
    assert page_data(tmp_path / "site" / "p.html")["videos"][0]["window"] == {"start_s": 0.0, "end_s": 3.0, "loop": False, "loop_cut_s": 0.0}
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.slow
def test_page_hatches_where_the_model_is_unsure(track, tmp_path, browser):
    """The second half is outside the model's genres: drawn hatched, named so in the hover tip."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    analysis = analyze(track)
    profile = analysis.genre_profile
    half = analysis.duration_s / 2
    unsure = profile.model_copy(update={"in_scope": [1.0 if t < half else 0.0 for t in profile.times_s]})
    page = write_preview(track, tmp_path / "unsure.html", analysis=analysis.model_copy(update={"genre_profile": unsure}))
    browser.get(page.as_uri())
    wait_until(lambda: browser.execute_script("return document.getElementById('timeline').dataset.drawn === '1' && window.mvgenPreview !== undefined"))
    data = browser.execute_script("return window.mvgenPreview.data.genres")
    assert data[-1]["key"] == "other" and data[-1]["unsure"] and data[-1]["name"] == "outside the model's genres"

    def colours(t, rows=range(40, 120, 3)):
        return browser.execute_script(
            "const c = document.getElementById('timeline'); const px = Math.round(arguments[0] / window.mvgenPreview.duration_s * c.width);"
            "return arguments[1].map(y => Array.from(c.getContext('2d').getImageData(px, y, 1, 1).data).slice(0, 3));", t, list(rows))

    late = {tuple(c) for c in colours(0.85 * analysis.duration_s)}
    early = {tuple(c) for c in colours(0.15 * analysis.duration_s)}
    def grey(c):  # the hatching's cool greys (anti-aliased between its two colours)
        return max(c) - min(c) <= 25 and c[2] >= c[0]

    assert all(grey(c) for c in late) and max(map(min, late)) >= 230 and min(map(max, late)) <= 170, late  # light fill and dark lines
    assert not any(grey(c) for c in early), early  # the genre colours where the model is sure
    canvas = browser.find_element(By.ID, "timeline")
    width = canvas.size["width"]
    ActionChains(browser).move_to_element_with_offset(canvas, int(0.85 * width - width / 2), 10).perform()
    tip = wait_until(lambda: browser.find_element(By.ID, "tip").text)
    assert tip.splitlines()[1].startswith("outside the model's genres 100")



#: The excerpt the clip tests render (track seconds): ``mvgen render --start 7.5 --end 11``.
CLIP_START_S, CLIP_END_S = 7.5, 11.0


@pytest.fixture(scope="module")
def rendered(track, tmp_path_factory):
    """``(analysis, clip, loop)``: the track's excerpt from :data:`CLIP_START_S` to :data:`CLIP_END_S`,
    rendered by the CLI, and its seamless loop (Spotify Canvas), both tiny (64 px, 10 fps)."""
    from mvgen.pipeline import render_video
    from mvgen.settings import RenderSettings

    folder = tmp_path_factory.mktemp("videos")
    with pytest.MonkeyPatch.context() as patch:  # one analysis for both renders and the pages
        patch.setenv("MVGEN_CACHE_DIR", str(folder / "cache"))
        args = ["render", track, "-o", folder / "clip.mp4", "--start", CLIP_START_S, "--end", CLIP_END_S, "--size", 64, "--fps", 10]
        result = subprocess.run([sys.executable, "-m", "mvgen", *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert result.returncode == 0, result.stderr
        analysis = analyze(track)
        loop = render_video(track, folder / "loop.mp4", RenderSettings(size=64, fps=10, loop=True), analysis=analysis)
    return analysis, folder / "clip.mp4", loop


def _mvgen_tags(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return {k: v for k, v in json.loads(out)["format"].get("tags", {}).items() if k.startswith("mvgen_")}


@pytest.mark.slow
def test_a_rendered_clip_and_loop_carry_their_window(track, rendered, tmp_path):
    from mvgen.clips import loop_window
    from mvgen.media.assemble import probe_video, read_video_window

    if shutil.which("ffprobe") is None:
        pytest.skip("no ffprobe on PATH")
    analysis, clip, loop = rendered
    assert _mvgen_tags(clip) == {"mvgen_start_s": "7.500", "mvgen_end_s": "11.000", "mvgen_loop": "0", "mvgen_loop_cut_s": "0.000"}
    # the loop: its window is the loop's bars; it opens on one of its frames (its calmest cut)
    bars, shown = loop_window(analysis), read_video_window(loop)
    tags = _mvgen_tags(loop)
    assert tags["mvgen_loop"] == "1" and (float(tags["mvgen_start_s"]), float(tags["mvgen_end_s"])) == (round(bars.start_s, 3), round(bars.end_s, 3))
    frames = probe_video(loop).n_frames
    cut_frames = shown.loop_cut_s / shown.length_s * frames
    assert 0 <= shown.loop_cut_s < shown.length_s and cut_frames == pytest.approx(round(cut_frames), abs=0.01)

    # the page's data: each video with its window; a video without tags is the whole track from 0
    untagged = tmp_path / "untagged.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(clip), "-map_metadata", "-1", "-c", "copy", str(untagged)], check=True)
    page = write_preview(track, tmp_path / "p.html", video=[clip, loop, untagged], analysis=analysis)
    windows = [v["window"] for v in page_data(page)["videos"]]
    assert windows[0] == {"start_s": CLIP_START_S, "end_s": CLIP_END_S, "loop": False, "loop_cut_s": 0.0}
    assert windows[1] == {"start_s": shown.start_s, "end_s": shown.end_s, "loop": True, "loop_cut_s": shown.loop_cut_s}
    assert windows[2] == {"start_s": 0.0, "end_s": analysis.duration_s, "loop": False, "loop_cut_s": 0.0}


def _open_page(browser, page: Path) -> None:
    browser.get(page.as_uri())
    wait_until(lambda: browser.execute_script("return document.getElementById('timeline').dataset.drawn === '1' && window.mvgenPreview !== undefined"))
    wait_until(lambda: browser.execute_script("return document.getElementById('player').readyState >= 1"))  # metadata: seekable


def _row(browser, y: int) -> list:
    """The timeline's pixels of row ``y``, ``[[r, g, b], ...]`` left to right."""
    return browser.execute_script(
        "const c = document.getElementById('timeline'), d = c.getContext('2d').getImageData(0, arguments[0], c.width, 1).data;"
        "const row = []; for (let i = 0; i < d.length; i += 4) row.push([d[i], d[i + 1], d[i + 2]]); return row;", y)


def _px(browser, t: float) -> int:
    return browser.execute_script("return Math.round(arguments[0] / window.mvgenPreview.duration_s * document.getElementById('timeline').width)", t)


def _luma(c) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _playhead_at(row: list, px: int) -> bool:
    """The playhead (2 black columns ending at ``px``) is drawn there, and only there nearby."""
    return row[px - 1] == [0, 0, 0] and row[px] == [0, 0, 0] and row[px - 6] != [0, 0, 0] and row[px + 5] != [0, 0, 0]


@pytest.mark.slow
def test_a_clip_plays_at_its_place_on_the_timeline(track, rendered, tmp_path, browser):
    """At video time 0 the playhead is at the clip's start; the timeline is dimmed outside the clip; a
    click inside seeks there, a click past the clip's end stops at its end, one before it at its start."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    analysis, clip, _ = rendered
    middle = 130  # a row through the profile area
    _open_page(browser, write_preview(track, tmp_path / "audio.html", analysis=analysis))
    plain = _row(browser, middle)  # the same timeline for the whole track: nothing dimmed
    _open_page(browser, write_preview(track, tmp_path / "clip.html", video=clip, analysis=analysis))
    assert browser.execute_script("return document.getElementById('player').currentTime") == 0
    assert browser.execute_script("return window.mvgenPreview.trackTime()") == CLIP_START_S
    row = _row(browser, middle)
    start, end = _px(browser, CLIP_START_S), _px(browser, CLIP_END_S)
    assert _playhead_at(row, start)
    inside = list(range(start + 3, end - 2))
    outside = [*range(3, start - 3), *range(end + 2, len(row) - 1)]
    assert all(row[i] == plain[i] for i in inside)
    assert all(_luma(row[i]) < _luma(plain[i]) - 10 for i in outside), "the timeline outside the clip is not dimmed"
    assert "0:07.50 to 0:11.00" in browser.find_element(By.ID, "clip").text

    canvas = browser.find_element(By.ID, "timeline")
    width = canvas.size["width"]

    def click_at(t: float) -> None:
        ActionChains(browser).move_to_element_with_offset(canvas, int(t / analysis.duration_s * width - width / 2), 0).click().perform()

    def now() -> tuple[float, float]:
        return tuple(browser.execute_script("return [document.getElementById('player').currentTime, window.mvgenPreview.trackTime()]"))

    px_s = analysis.duration_s / width * 3  # a click lands within a few pixels
    click_at(CLIP_START_S + 2.0)
    video_t, track_t = wait_until(lambda: (v := now())[0] > 0 and v)
    assert video_t == pytest.approx(2.0, abs=px_s) and track_t == pytest.approx(CLIP_START_S + video_t)
    click_at(0.9 * analysis.duration_s)  # far past the clip (its last frame is 3.5 s into the video)
    video_t, track_t = wait_until(lambda: (v := now())[0] > 3 and v)
    duration = browser.execute_script("return document.getElementById('player').duration")
    assert video_t <= duration and track_t == pytest.approx(CLIP_END_S, abs=0.11)
    assert _playhead_at(_row(browser, middle), _px(browser, track_t))
    click_at(2.0)  # before the clip: its first frame
    assert wait_until(lambda: (v := now())[0] == 0 and v) == (0, CLIP_START_S)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.slow
def test_a_loop_plays_round_its_window_and_the_picker_switches_videos(track, rendered, tmp_path, browser):
    """A batch-style page of two videos: picking the loop moves the undimmed window to the loop's bars;
    its playhead starts at the loop's cut, and a track time in the loop seeks to the video time that
    shows it (wrapping round the cut)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from mvgen.media.assemble import read_video_window

    analysis, clip, loop = rendered
    shown = read_video_window(loop)
    _open_page(browser, write_preview(track, tmp_path / "both.html", video=[clip, loop], analysis=analysis))
    middle = 130
    before = _row(browser, middle)
    Select(browser.find_element(By.ID, "videos")).select_by_visible_text("loop.mp4")
    wait_until(lambda: browser.execute_script("const p = document.getElementById('player'); return p.readyState >= 1 && p.src.endsWith('loop.mp4') && p.loop"))
    assert browser.execute_script("return window.mvgenPreview.clip().loop") is True
    assert browser.execute_script("return window.mvgenPreview.trackTime()") == pytest.approx(shown.start_s + shown.loop_cut_s)
    after = _row(browser, middle)
    assert _playhead_at(after, _px(browser, shown.start_s + shown.loop_cut_s))
    # dimmed where the clip was shown but the loop is not, and the other way round
    clip_only = [i for i in range(_px(browser, CLIP_START_S) + 3, _px(browser, CLIP_END_S) - 2) if not _px(browser, shown.start_s) - 3 <= i <= _px(browser, shown.end_s) + 3]
    loop_only = [i for i in range(_px(browser, shown.start_s) + 3, _px(browser, shown.end_s) - 2) if not _px(browser, CLIP_START_S) - 3 <= i <= _px(browser, CLIP_END_S) + 3
                 and abs(i - _px(browser, shown.start_s + shown.loop_cut_s)) > 3]
    assert clip_only and loop_only
    assert all(_luma(after[i]) < _luma(before[i]) - 10 for i in clip_only)
    assert all(_luma(after[i]) > _luma(before[i]) + 10 for i in loop_only)
    # seeking to the loop's first bar: the video time after the cut wraps round to it
    target = shown.start_s + 0.2
    assert browser.execute_script("return window.mvgenPreview.seek(arguments[0])", target) == pytest.approx(target, abs=1e-3)
    video_t = browser.execute_script("return document.getElementById('player').currentTime")
    assert video_t == pytest.approx(shown.length_s - shown.loop_cut_s + 0.2, abs=1e-3)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
