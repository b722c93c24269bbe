"""Shared fixtures: synthetic tracks with ground truth, rendered once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest


def every_ffmpeg() -> list:
    """pytest params of every ffmpeg at hand: Debian's (/usr/bin/ffmpeg) and the bundled one (imageio-ffmpeg),
    else the one on PATH; a skip when there is none."""
    found = [pytest.param("/usr/bin/ffmpeg", id="system")] if os.path.isfile("/usr/bin/ffmpeg") else []
    try:
        import imageio_ffmpeg

        found.append(pytest.param(imageio_ffmpeg.get_ffmpeg_exe(), id="imageio"))
    except (ImportError, RuntimeError):
        pass
    if not found and shutil.which("ffmpeg"):
        found.append(pytest.param(shutil.which("ffmpeg"), id="path"))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="no ffmpeg"))]


@pytest.fixture(params=every_ffmpeg())
def ffmpeg(request, monkeypatch):
    """The test runs with every ffmpeg at hand (Debian's 5.1 and the bundled one), chosen as mvgen does: $MVGEN_FFMPEG."""
    from mvgen.media.ffmpeg import ffmpeg_exe

    monkeypatch.setenv("MVGEN_FFMPEG", request.param)
    assert os.path.realpath(ffmpeg_exe()) == os.path.realpath(request.param)
    return request.param


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own analysis cache, so no test sees another's results."""
    monkeypatch.setenv("MVGEN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def synth_track():
    """Render (and memoize) a synthetic track: ``synth_track(genres, seed, bars_scale, **arrangement)``."""
    from mvgen import synth

    memo: dict = {}

    def make(genres, seed: int = 0, bars_scale: float = 0.5, sr: int = 22050, **updates):
        key = (repr(genres), seed, bars_scale, sr, repr(sorted(updates.items())))
        if key not in memo:
            arrangement = synth.default_arrangement(genres, seed=seed, bars_scale=bars_scale)
            if updates:
                arrangement = arrangement.model_copy(update=updates)
            audio, truth = synth.render(arrangement, seed=seed, sr=sr, stereo=False)
            memo[key] = (np.asarray(audio, dtype=np.float32), truth)
        return memo[key]

    return make


@pytest.fixture(scope="session")
def house_wav(tmp_path_factory, synth_track):
    """A 42 s synthetic future-house track (seed 21, quarter-length sections) as a 22.05 kHz WAV, written
    once for the session: the short real track the render, end-card, cover and branding tests draw."""
    from mvgen.media.audio import write_audio

    y, _ = synth_track(["future_house"], seed=21, bars_scale=0.25)
    path = tmp_path_factory.mktemp("house") / "track.wav"
    write_audio(path, y, 22050)
    return path


@pytest.fixture
def run_cli():
    """Run ``python -m mvgen ARGS`` in a fresh process; returns the CompletedProcess (text)."""
    import subprocess
    import sys

    def run(*args, env=None, timeout=300):
        full_env = {**os.environ, **(env or {})}
        full_env.pop("MVGEN_DEBUG", None)
        return subprocess.run([sys.executable, "-m", "mvgen", *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by selenium (skipped without it, unless MVGEN_REQUIRE_BROWSER=1)."""
    from tests.browser import start_browser

    yield from start_browser()
