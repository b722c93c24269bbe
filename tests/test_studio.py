"""mvgen studio: the local server's API on a real uvicorn server, its guards, and the frames it draws."""

from __future__ import annotations

import colorsys
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("fastapi")

from mvgen.style.styles import validate_styles  # noqa: E402
from mvgen.studio import MAX_BODY_BYTES, Studio, StudioOptions, create_app  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deep_house_wav(tmp_path_factory):
    from mvgen import synth
    from mvgen.media.audio import write_audio

    audio, _ = synth.render(synth.default_arrangement("deep_house", seed=4, bars_scale=0.25), seed=4, sr=22050, stereo=False)
    path = tmp_path_factory.mktemp("studio") / "deep.wav"
    write_audio(path, np.asarray(audio, np.float32), 22050)
    return path


@pytest.fixture
def server(deep_house_wav, tmp_path):
    """A studio on a free port over the deep-house track, with a styles folder holding a commented partial file."""
    import uvicorn

    from mvgen.analysis.track import analyze

    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "deep_house.yaml").write_text("# my deep house\ngenre: deep_house\nmotion:\n  drift: 0.3  # keep it slow\n")
    options = StudioOptions(tracks=(deep_house_wav,), styles_dir=styles, output_dir=tmp_path / "renders", port=_free_port())
    studio = Studio(options, [analyze(deep_house_wav, cache_directory=tmp_path / "cache")])
    uv = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=options.port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        time.sleep(0.05)
    yield options, studio
    uv.should_exit = True
    thread.join(timeout=10)


def call(options, method, path, body=None, *, token=True, headers=None):
    """``(status, body bytes, response headers)`` of a request to the studio."""
    url = f"http://127.0.0.1:{options.port}{path}"
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Token {options.token}"
    data = body if isinstance(body, bytes) else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_every_request_needs_the_token_in_one_of_three_places(server):
    options, _ = server
    assert call(options, "GET", "/api/styles", token=False)[0] == 403
    assert call(options, "GET", "/api/styles", token=False, headers={"Authorization": "Token wrong"})[0] == 403
    assert call(options, "GET", "/api/styles")[0] == 200  # Authorization: Token
    assert call(options, "GET", f"/api/styles?token={options.token}", token=False)[0] == 200
    status, _, headers = call(options, "GET", f"/?token={options.token}", token=False)
    assert status == 200 and "mvgen_studio_token=" in headers.get("set-cookie", "") and "HttpOnly" in headers["set-cookie"]
    assert call(options, "GET", "/api/styles", token=False, headers={"Cookie": f"mvgen_studio_token={options.token}"})[0] == 200


def test_foreign_hosts_origins_and_big_bodies_are_refused(server):
    options, _ = server
    assert call(options, "GET", "/api/styles", headers={"Host": f"attacker.example:{options.port}"})[0] == 403  # DNS rebinding
    assert call(options, "GET", "/api/styles", headers={"Origin": "http://attacker.example"})[0] == 403
    assert call(options, "GET", "/api/styles", headers={"Origin": f"http://127.0.0.1:{options.port}"})[0] == 200
    status, body, _ = call(options, "PUT", "/api/styles/deep_house", b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}")
    assert status == 413 and b"request body over" in body
    import http.client  # a chunked body has no Content-Length to refuse it by: it is counted as it comes

    conn = http.client.HTTPConnection("127.0.0.1", options.port, timeout=30)
    conn.putrequest("PUT", "/api/styles/deep_house")
    for name, value in (("Authorization", f"Token {options.token}"), ("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")):
        conn.putheader(name, value)
    conn.endheaders()
    chunk = b" " * 65536
    try:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server may close as soon as it has refused
    response = conn.getresponse()
    assert response.status == 413 and b"request body over" in response.read()
    conn.close()


@pytest.mark.parametrize("path", ["/api/styles/..%2F..%2Fetc%2Fpasswd", "/api/styles/%2Fetc%2Fpasswd", "/api/audio/1", "/api/audio/-1", "/../../etc/passwd"])
def test_no_request_reaches_a_file_it_names(server, path):
    options, _ = server
    status, body, _ = call(options, "GET", path)
    assert status in (404, 422) and b"root:" not in body


def test_a_bad_style_gets_the_validators_message_and_changes_nothing(server):
    options, studio = server
    before = studio.styles["deep_house"]
    status, body, _ = call(options, "PUT", "/api/styles/deep_house", {"motion": {"drift": 7.0}})
    assert status == 422
    (problem,) = json.loads(body)["detail"]
    assert problem.startswith("deep_house.yaml:1: motion.drift:") and "allowed" in problem
    assert studio.styles["deep_house"] == before


def _green_share(png: bytes) -> float:
    """Share of the frame's saturated, lit pixels whose hue is green (90-150 degrees)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64) / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb.reshape(-1, 3)[::7]])
    lit = (hsv[:, 1] > 0.5) & (hsv[:, 2] > 0.25)
    return float(np.mean((hsv[lit, 0] * 360 > 90) & (hsv[lit, 0] * 360 < 150))) if lit.any() else 0.0


def test_a_green_palette_turns_the_frame_green_and_saves_keeping_comments(server):
    options, studio = server
    status, before, headers = call(options, "GET", "/api/frame?t=12&width=320")
    assert status == 200 and headers["content-type"] == "image/png"
    assert _green_share(before) < 0.3
    green = {"palette": {"colors": ["#00ff00", "#00ff00", "#00ff00"], "background": "#002000"}}
    assert call(options, "PUT", "/api/styles/deep_house", green)[0] == 200
    after = call(options, "GET", "/api/frame?t=12&width=320")[1]
    assert _green_share(after) > 0.8
    status, body, _ = call(options, "POST", "/api/styles/save")
    assert status == 200 and json.loads(body)["written"] == [str(options.styles_dir / "deep_house.yaml")]
    text = (options.styles_dir / "deep_house.yaml").read_text()
    assert "# my deep house" in text and "drift: 0.3  # keep it slow" in text and "'#00ff00'" in text
    assert validate_styles(options.styles_dir) == []


def test_a_saved_folder_renders_green_with_mvgen_render(server, run_cli, tmp_path):
    from tests.videos import rgb_frames

    options, _ = server
    green = {"palette": {"colors": ["#00ff00", "#00ff00", "#00ff00"], "background": "#002000"}}
    assert call(options, "PUT", "/api/styles/deep_house", green)[0] == 200
    assert call(options, "POST", "/api/styles/save")[0] == 200
    out = tmp_path / "green.mp4"
    result = run_cli("render", options.tracks[0], "--styles", options.styles_dir, "--start", "8", "--end", "9", "--size", "144", "-o", out)
    assert result.returncode == 0, result.stderr
    frames = rgb_frames(out, 256, 144)
    lit = frames[len(frames) // 2].reshape(-1, 3)
    r, g, b = lit[:, 0], lit[:, 1], lit[:, 2]
    saturated = (np.max(lit, axis=1) > 60) & (np.max(lit, axis=1) - np.min(lit, axis=1) > 0.5 * np.max(lit, axis=1))
    assert saturated.sum() > 100 and np.mean(g[saturated] > np.maximum(r[saturated], b[saturated])) > 0.9


def test_a_file_changed_on_disk_is_not_overwritten(server):
    options, _ = server
    assert call(options, "PUT", "/api/styles/deep_house", {"motion": {"drift": 0.5}})[0] == 200
    path = options.styles_dir / "deep_house.yaml"
    path.write_text(path.read_text() + "# edited in another editor\n")
    status, body, _ = call(options, "POST", "/api/styles/save")
    assert status == 409 and "changed on disk" in json.loads(body)["detail"][0]
    assert path.read_text().endswith("# edited in another editor\n")


def test_a_new_class_file_is_created_and_valid(server):
    options, _ = server
    assert call(options, "PUT", "/api/styles/other", {"motion": {"drift": 0.05}})[0] == 200
    assert call(options, "POST", "/api/styles/save")[0] == 200
    assert (options.styles_dir / "other.yaml").read_text().startswith("genre: other")
    assert validate_styles(options.styles_dir) == []


# --------------------------------------------------------------------------- the page, in Chromium


def _open(browser, options, key: str = "deep_house") -> None:
    """Open the studio page (token in the URL, as printed) and pick ``key``'s style; wait for a frame."""
    from tests.browser import wait_until

    browser.get(options.url())
    wait_until(lambda: browser.execute_script("const f = document.getElementById('frame'); return f.dataset.time !== '-1' && f.complete && f.naturalWidth > 0;"))
    browser.execute_script(f"const s = document.getElementById('class'); s.value = '{key}'; s.dispatchEvent(new Event('change'));")
    # the fields are drawn once the class's style has loaded (before that they may be another class's)
    wait_until(lambda: browser.execute_script("return document.getElementById('fields').dataset.key === arguments[0];", key))


def _set(browser, name: str, value) -> None:
    browser.execute_script("const i = document.querySelector(`[name=\"${arguments[0]}\"]`); i.value = arguments[1]; i.dispatchEvent(new Event('change'));", name, value)


def _frame_after(browser, previous: str) -> bytes:
    """The frame image once it has been replaced (its blob URL changed), as PNG bytes of the element."""
    from tests.browser import wait_until

    wait_until(lambda: browser.execute_script("const f = document.getElementById('frame'); return f.src !== arguments[0] && f.complete && f.naturalWidth > 0;", previous))
    time.sleep(0.2)
    return browser.find_element("id", "frame").screenshot_as_png


def test_the_page_turns_the_frame_green_and_refuses_a_bad_value(server, browser):
    options, studio = server
    _open(browser, options)
    before = browser.find_element("id", "frame").screenshot_as_png
    src = browser.execute_script("return document.getElementById('frame').src")
    _set(browser, "palette.colors.0", "#00ff00")
    after = _frame_after(browser, src)
    assert studio.styles["deep_house"].palette.colors[0] == "#00ff00"
    assert _green_share(before) < 0.05 and _green_share(after) > 0.1  # the first of its colours: one of the picture's hues
    # a bad value: the validator's message beside the fields, and no save
    _set(browser, "motion.drift", "99")
    from tests.browser import wait_until

    problem = wait_until(lambda: browser.find_element("id", "problems").text)
    assert "motion.drift" in problem and "allowed" in problem
    beside = browser.execute_script("const n = document.querySelector('[name=\"motion.drift\"]').closest('label').nextElementSibling; return n && n.classList.contains('field-problem') ? n.textContent : '';")
    assert beside == problem  # the same message, beside its control
    browser.find_element("id", "save").click()
    assert "fix the problems" in wait_until(lambda: browser.find_element("id", "status").text)
    assert "99" not in (options.styles_dir / "deep_house.yaml").read_text()


def test_two_tabs_the_second_save_is_told_the_file_changed(server, browser):
    from tests.browser import wait_until

    options, _ = server
    _open(browser, options)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    _open(browser, options)
    second = browser.current_window_handle
    browser.switch_to.window(first)
    _set(browser, "motion.drift", "0.4")
    wait_until(lambda: "unsaved" in browser.find_element("id", "status").text)
    browser.find_element("id", "save").click()
    assert "saved:" in wait_until(lambda: browser.find_element("id", "status").text if "saved" in browser.find_element("id", "status").text else None)
    browser.switch_to.window(second)
    _set(browser, "motion.drift", "0.6")
    wait_until(lambda: "unsaved" in browser.find_element("id", "status").text)
    browser.find_element("id", "save").click()
    assert "changed on disk" in wait_until(lambda: browser.find_element("id", "status").text if "disk" in browser.find_element("id", "status").text else None)
    assert "drift: 0.4" in (options.styles_dir / "deep_house.yaml").read_text()
    browser.close()
    browser.switch_to.window(first)


def test_a_render_from_the_page_runs_through_the_batch_and_reports_its_checks(server):
    options, studio = server
    assert call(options, "PUT", "/api/styles/deep_house", {"palette": {"colors": ["#00ff00", "#00ff00", "#00ff00"]}})[0] == 200
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["nonsense"]})
    assert status == 422 and "unknown format 'nonsense'" in body.decode()
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "branding": {"logo": "/etc/passwd"}})
    assert status == 422  # files are not branding the page can give: only text
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "length_s": 2.0, "start_s": 4.0, "size": 144,
                                                             "branding": {"artist": "Studio Artist", "title": "Green Mix"}})
    assert status == 200
    job_id = json.loads(body)["id"]
    deadline = time.monotonic() + 240
    while True:
        job = json.loads(call(options, "GET", f"/api/jobs/{job_id}")[1])
        if job["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["state"] == "done", job
    (result,) = job["results"]
    assert result["status"] == "done" and result["deliverables"]
    video = result["deliverables"][0]
    assert video["checks"] and {"name", "passed", "why"} <= set(video["checks"][0])
    from mvgen.media.assemble import probe_video

    video_info = probe_video(result["output"])
    assert abs(video_info.n_frames / video_info.fps - 2.0) < 0.1
    # the snapshot of the styles it rendered with holds the unsaved green palette
    assert "'#00ff00'" in (options.output_dir / f"studio-{job_id}" / "styles" / "deep_house.yaml").read_text()
    from mvgen.batch import load_manifest

    (job_spec,) = load_manifest(options.output_dir / f"studio-{job_id}" / "manifest.yaml")[1]
    assert (job_spec.settings.branding.artist, job_spec.settings.branding.title) == ("Studio Artist", "Green Mix")
    assert call(options, "GET", "/api/jobs/nope")[0] == 404


def test_the_page_starts_a_render_and_shows_its_checks(server, browser):
    from tests.browser import wait_until

    options, _ = server
    _open(browser, options)
    browser.execute_script("document.getElementById('clip-length').value = '2'; document.getElementById('size').value = '144';")
    browser.find_element("id", "render").click()
    wait_until(lambda: browser.execute_script("const j = document.querySelector('.job'); return j && j.dataset.state === 'done';"), timeout_s=240)
    text = browser.find_element("id", "jobs").text
    assert "done" in text and ".mp4" in text and ("all checks passed" in text or "✗" in text)
    (video,) = options.output_dir.glob("studio-*/renders/*.mp4")
    from mvgen.media.assemble import probe_video

    info = probe_video(video)
    assert abs(info.n_frames / info.fps - 2.0) < 0.1 and min(info.width, info.height) == 144  # the clip length and draft size asked for


def test_play_four_bars_is_a_clip_from_the_downbeat(server, tmp_path):
    from mvgen.media.assemble import probe_video

    options, studio = server
    analysis = studio.analyses[0]
    status, video, headers = call(options, "GET", "/api/clip?t=10.3&width=160")
    assert status == 200 and headers["content-type"] == "video/mp4"
    start_s, end_s = float(headers["x-mvgen-start-s"]), float(headers["x-mvgen-end-s"])
    downbeats = np.asarray(analysis.downbeats_s)
    bar_s = float(np.median(np.diff(downbeats)))
    assert start_s == pytest.approx(downbeats[downbeats <= 10.3][-1], abs=1e-3) and end_s - start_s == pytest.approx(4 * bar_s, abs=1e-3)
    path = tmp_path / "clip.mp4"
    path.write_bytes(video)
    info = probe_video(path)
    assert (info.width, info.height) == (160, 90) and abs(info.n_frames / info.fps - 4 * bar_s) < 2.0 / info.fps


def test_the_page_plays_four_bars_in_sync_with_the_audio(server, browser):
    from tests.browser import wait_until

    options, studio = server
    _open(browser, options)
    browser.execute_script("document.getElementById('player').currentTime = 6.0;")
    wait_until(lambda: browser.execute_script("return document.getElementById('player').readyState >= 1"))
    browser.find_element("id", "play-bars").click()
    wait_until(lambda: browser.execute_script("return document.getElementById('bars').dataset.state === 'playing';"), timeout_s=60)
    start = float(browser.execute_script("return document.getElementById('bars').dataset.start"))
    downbeats = np.asarray(studio.analyses[0].downbeats_s)
    assert start == pytest.approx(downbeats[downbeats <= 6.0][-1], abs=1e-3)
    wait_until(lambda: browser.execute_script("return document.getElementById('bars').currentTime > 1.0;"), timeout_s=30)  # a second: audio that did not play would be a second behind
    video_t, audio_t = browser.execute_script("return [document.getElementById('bars').currentTime, document.getElementById('player').currentTime];")
    assert abs((audio_t - start) - video_t) < 0.5  # the audio plays under the clip, in step (within a beat; the decoders may lag under load)
    wait_until(lambda: browser.execute_script("return document.getElementById('bars').dataset.state === 'ended';"), timeout_s=30)
    assert browser.execute_script("return document.getElementById('player').paused && document.getElementById('bars').hidden;")


def test_the_page_edits_motifs_and_the_modulation_matrix(server, browser):
    from tests.browser import wait_until

    options, studio = server
    _open(browser, options)
    n_inputs = browser.execute_script("return document.querySelectorAll('table.matrix input').length;")
    from mvgen.analysis.reactive import SOURCES
    from mvgen.style.styles import TARGETS

    assert n_inputs == len(SOURCES) * len(TARGETS)  # the grid comes from the schema: every source x every target
    _set(browser, "modulate.kick.zoom", "0.05")
    wait_until(lambda: studio.styles["deep_house"].modulate.get("kick", {}).get("zoom") == 0.05)
    _set(browser, "procedural.motifs.lasers", "0.7")
    wait_until(lambda: studio.styles["deep_house"].procedural.motifs.get("lasers") == 0.7)
    _set(browser, "modulate.kick.rotation", "500")  # rotation allows -90..90 degrees
    problem = wait_until(lambda: browser.find_element("id", "problems").text)
    assert "modulate" in problem and "rotation" in problem and "out of range" in problem
    assert "rotation" not in studio.styles["deep_house"].modulate.get("kick", {})


# --------------------------------------------------------------------------- branding files from the page


def _png(color, size=(320, 320), mode="RGB") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _font_bytes() -> bytes:
    from mvgen.brand.fonts import default_font

    return default_font().read_bytes()


def test_branding_files_are_checked_and_kept_only_where_the_server_says(server):
    options, studio = server
    folder = options.output_dir / "studio-branding"
    # good files of each kind are kept under names the server makes, whatever the request called them
    assert call(options, "PUT", "/api/branding/cover?name=..%2F..%2Fescape.png", _png((255, 0, 255)))[0] == 200
    assert call(options, "PUT", "/api/branding/logo?name=%2Ftmp%2Flogo.png", _png((255, 255, 255, 200), (200, 80), "RGBA"))[0] == 200
    assert call(options, "PUT", "/api/branding/font?name=brand.ttf", _font_bytes())[0] == 200
    assert call(options, "PUT", "/api/branding/lyrics?name=words.lrc", b"[00:00.50]first line\n[00:01.50]second line\n")[0] == 200
    assert sorted(p.name for p in folder.iterdir()) == ["cover.png", "font.ttf", "logo.png", "lyrics.lrc"]
    assert not (options.output_dir.parent / "escape.png").exists() and not list(options.output_dir.glob("escape*"))
    listed = json.loads(call(options, "GET", "/api/branding")[1])
    assert set(listed) == {"cover", "logo", "font", "lyrics"} and listed["cover"]["name"] == "cover.png"
    status, body, headers = call(options, "GET", "/api/branding/cover")
    assert status == 200 and body == (folder / "cover.png").read_bytes()
    # bad files: the check's message naming the upload, nothing kept, the good file still there
    cover_before = (folder / "cover.png").read_bytes()
    refused = {
        "cover?name=art.png": b"this is not a PNG",
        "cover?name=art.gif": _png((0, 0, 0)),
        "cover?name=art.png ": b"",
        "font?name=font.ttf": b"\x00\x01\x00\x00 not really a font",
        "lyrics?name=words.lrc": b"no timestamps here\n",
        "lyrics?name=big.lrc": b"[00:01.00]" + b"la " * 400_000,
    }
    for path, data in refused.items():
        status, body, _ = call(options, "PUT", f"/api/branding/{path}", data)
        detail = json.loads(body)["detail"]
        assert status == 422 and detail.startswith(path.split("?")[0] + " upload "), (path, detail)
    assert "must be a .png/.jpg/.jpeg/.webp file" in json.loads(call(options, "PUT", "/api/branding/cover?name=art.gif", _png((0, 0, 0)))[1])["detail"]
    assert (folder / "cover.png").read_bytes() == cover_before and not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert call(options, "PUT", "/api/branding/passwd?name=x.png", _png((0, 0, 0)))[0] == 404  # kinds are a fixed list
    assert call(options, "PUT", "/api/branding/cover?name=x.png", _png((0, 0, 0)), token=False)[0] == 403
    # a new cover of another suffix replaces the old one; DELETE forgets a file
    assert call(options, "PUT", "/api/branding/cover?name=art.webp", _webp((255, 0, 255)))[0] == 200
    assert not (folder / "cover.png").exists() and (folder / "cover.webp").is_file()
    assert json.loads(call(options, "DELETE", "/api/branding/logo")[1]) == {"dropped": True}
    assert "logo" not in json.loads(call(options, "GET", "/api/branding")[1])


def _webp(color) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), color).save(buffer, "WEBP")
    return buffer.getvalue()


def test_a_render_from_the_page_carries_the_uploaded_cover_and_lyrics(server):
    options, _ = server
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "branding": {"cover": True}})
    assert status == 422 and "no cover was uploaded" in body.decode()
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "branding": {"palette_from_cover": True}})
    assert status == 422 and "palette_from_cover needs the uploaded cover" in body.decode()
    assert call(options, "PUT", "/api/branding/cover?name=art.png", _png((255, 0, 255)))[0] == 200
    assert call(options, "PUT", "/api/branding/lyrics?name=words.lrc", b"[00:04.20]studio words\n[00:05.40]end\n")[0] == 200
    status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "length_s": 5.0, "start_s": 4.0, "size": 144,
                                                             "branding": {"artist": "Studio Artist", "cover": True, "lyrics": True, "end_card_s": 1.0}})
    assert status == 200, body
    job_id = json.loads(body)["id"]
    # a later upload does not change the render under way: it took a copy
    assert call(options, "PUT", "/api/branding/cover?name=art.png", _png((0, 255, 0)))[0] == 200
    deadline = time.monotonic() + 240
    while (job := json.loads(call(options, "GET", f"/api/jobs/{job_id}")[1]))["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job["state"] == "done", job
    (result,) = job["results"]
    assert result["status"] == "done", result
    from mvgen.media.assemble import probe_video
    from tests.videos import rgb_frames

    info = probe_video(result["output"])
    frames = rgb_frames(result["output"], info.width, info.height)
    last = frames[-1]
    magenta = (last[..., 0] > 200) & (last[..., 1] < 60) & (last[..., 2] > 200)
    assert magenta.mean() > 0.05, magenta.mean()  # the end card (1 s of a 5 s clip) shows the cover uploaded when the render started
    first = frames[0]
    assert ((first[..., 0] > 200) & (first[..., 1] < 60) & (first[..., 2] > 200)).mean() < 0.01  # the music's frames before it
    assert len(frames) == info.n_frames
    srt = [p for p in (options.output_dir / f"studio-{job_id}" / "renders").glob("*.srt")]
    assert srt and "studio words" in srt[0].read_text()  # the lyrics' captions beside the video


def test_the_page_uploads_branding_files_and_shows_a_refused_one_beside_its_control(server, browser, tmp_path):
    from tests.browser import wait_until

    options, _ = server
    _open(browser, options)
    cover = tmp_path / "My Cover.png"
    cover.write_bytes(_png((255, 0, 255)))
    browser.find_element("id", "file-cover").send_keys(str(cover))
    assert wait_until(lambda: browser.find_element("id", "kept-cover").text.startswith("cover.png"))
    assert (options.output_dir / "studio-branding" / "cover.png").read_bytes() == cover.read_bytes()
    assert browser.execute_script("return !document.getElementById('palette-cover').disabled && !document.getElementById('cover-thumb').hidden")
    wait_until(lambda: browser.execute_script("const i = document.getElementById('cover-thumb'); return i.complete && i.naturalWidth === 320;"))
    bad = tmp_path / "lyrics.lrc"
    bad.write_text("just words, no times\n")
    browser.find_element("id", "file-lyrics").send_keys(str(bad))
    problem = wait_until(lambda: (t := browser.find_element("id", "problem-lyrics").text) != "checking..." and t)
    assert problem.startswith("lyrics upload lyrics.lrc:") and browser.find_element("id", "kept-lyrics").text == "none"
    browser.find_element("id", "drop-cover").click()
    assert wait_until(lambda: browser.find_element("id", "kept-cover").text == "none")
    assert not (options.output_dir / "studio-branding" / "cover.png").exists()


def test_the_cli_serves_until_sigterm_and_names_a_missing_track(deep_house_wav, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "MVGEN_CACHE_DIR": str(tmp_path / "cache")}
    missing = subprocess.run([sys.executable, "-m", "mvgen", "studio", str(tmp_path / "nope.wav"), "--no-browser"], capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode != 0 and "nope.wav: no such audio file" in missing.stderr and "Traceback" not in missing.stderr
    port = _free_port()
    args = [sys.executable, "-m", "mvgen", "studio", str(deep_house_wav), "--styles", str(tmp_path / "styles"), "--out", str(tmp_path / "renders"), "--port", str(port), "--no-browser"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()  # printed once the server listens
        assert line.startswith(f"mvgen studio: http://127.0.0.1:{port}/?token="), line
        token = line.split("token=")[1].split()[0]
        options = StudioOptions(tracks=(deep_house_wav,), styles_dir=tmp_path / "styles", port=port, token=token)
        assert call(options, "GET", "/api/styles")[0] == 200 and call(options, "GET", "/api/styles", token=False)[0] == 403
        status, body, _ = call(options, "POST", "/api/render", {"track": 0, "formats": ["youtube"], "size": 144})
        assert status == 200
        children = _children(process.pid)
        renders = [pid for pid in children if b"resource_tracker" not in _cmdline(pid)]
        assert renders  # the render's own process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # stopping is how a server ends
        assert "Traceback" not in process.stderr.read()
        # its render was stopped with it; multiprocessing's resource tracker, the other child, ends on its
        # own once it reads the end of its pipe from the exited server, so it is given a few seconds
        assert not [pid for pid in renders if _alive(pid)]
        deadline = time.monotonic() + 10
        while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in children if _alive(pid)]
    finally:
        process.kill()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    import pathlib

    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    import pathlib

    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    import pathlib

    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
