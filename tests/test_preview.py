"""`mvgen preview`: the page works offline in a real headless Chromium (Debian's chromium + chromedriver).

Without a browser these tests skip, unless MVGEN_REQUIRE_BROWSER=1 (CI sets it, after installing them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mvgen.analysis.track import analyze
from tests.browser import wait_until
from mvgen.media.audio import write_audio
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
