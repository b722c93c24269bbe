"""Shared fixtures: synthetic tracks with ground truth, rendered once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest


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
