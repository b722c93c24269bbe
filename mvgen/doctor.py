"""`mvgen doctor`: what is installed, what is usable, and what to do about what is missing."""

from __future__ import annotations

import importlib.metadata
import subprocess
from dataclasses import dataclass

from mvgen.paths import cache_dir, models_dir


@dataclass(frozen=True)
class Check:
    """One line of the report; ``ok=False`` on a ``required`` check makes the exit code 1."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    fix: str = ""


def _package(name: str, dist: str | None = None, fix: str = "", required: bool = True) -> Check:
    try:
        version = importlib.metadata.version(dist or name)
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, "not installed", required=required, fix=fix or f"pip install {dist or name}")
    try:
        __import__(name)
    except Exception as exc:  # an installed but broken package is as bad as a missing one
        return Check(name, False, f"{version}, but import fails: {exc.__class__.__name__}: {exc}", required=required, fix=f"pip install --force-reinstall {dist or name}")
    return Check(name, True, version, required=required)


def _cuda() -> Check:
    try:
        import torch
    except Exception:
        return Check("cuda", False, "torch missing", required=False)
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("cuda", True, f"usable: {names} (CUDA {torch.version.cuda})", required=False)
    return Check("cuda", False, "not available; the CPU is used (slower)", required=False, fix="install a CUDA build of torch on a machine with an NVIDIA GPU")


def _ffmpeg() -> Check:
    from mvgen.media.ffmpeg import ffmpeg_exe
    from mvgen.errors import MvgenError

    try:
        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (MvgenError, OSError, subprocess.SubprocessError) as exc:
        return Check("ffmpeg", False, str(exc), fix="pip install imageio-ffmpeg, or install ffmpeg and put it on PATH (or set MVGEN_FFMPEG)")
    version = out.splitlines()[0].split(" Copyright")[0] if out else "unknown version"
    return Check("ffmpeg", True, f"{exe} ({version})")


def _classifier() -> Check:
    from mvgen.classify.checkpoints import DEFAULT_MODEL, default_checkpoint

    folder = default_checkpoint()
    if folder is not None:
        return Check("classifier", True, str(folder))
    return Check(
        "classifier",
        False,
        f"bundled sub-genre classifier {DEFAULT_MODEL} not found in {models_dir()}",
        fix="reinstall mvgen, set MVGEN_MODELS_DIR to a folder holding it, or rebuild it with `python models/build/default.py`",
    )


def _diffusion_model() -> Check:
    """Whether the default diffusion model is in the Hugging Face cache (optional: procedural needs none)."""
    from mvgen.renderers.diffusion import DEFAULT_MODEL

    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(DEFAULT_MODEL, "model_index.json"), str)
    except Exception:  # noqa: BLE001 - an unreadable cache is reported as missing
        cached = False
    if cached:
        return Check("diffusion", True, f"{DEFAULT_MODEL} in the Hugging Face cache", required=False)
    return Check("diffusion", False, f"{DEFAULT_MODEL} not downloaded (only --renderer diffusion needs it)", required=False,
                 fix=f"hf download {DEFAULT_MODEL}")


def run_checks() -> list[Check]:
    """All checks, in report order."""
    checks = [_package("torch"), _package("nnAudio", "nnAudio"), _package("diffusers"), _package("transformers"), _package("soundfile")]
    checks += [_cuda(), _ffmpeg(), _classifier(), _diffusion_model(),
               _package("ray", fix="pip install 'mvgen[ray]' (only mvgen batch --executor ray needs it)", required=False)]
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        writable = directory.is_dir()
    except OSError:
        writable = False
    checks.append(Check("cache", writable, str(directory), fix="set MVGEN_CACHE_DIR to a writable folder"))
    return checks
