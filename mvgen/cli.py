"""The `mvgen` command line: parses arguments, calls the library, prints results.

Every user-facing failure is an :class:`~mvgen.errors.MvgenError`, printed as one line on stderr
with a non-zero exit code; tracebacks are shown only with ``MVGEN_DEBUG=1``.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from mvgen.errors import MvgenError

app = typer.Typer(
    name="mvgen",
    help="Turn an electronic dance music track into a synced music video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err.print(f"[yellow]warning:[/] {message}", markup=True)


def _command(fn):
    """Run a command with one-line errors, warnings printed plainly, and a clean Ctrl-C."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.showwarning = _show_warning
        try:
            return fn(*args, **kwargs)
        except MvgenError as exc:
            _fail(str(exc), exc)
        except KeyboardInterrupt:
            err.print("mvgen: interrupted", markup=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug: still one line, the traceback on request
            _fail(f"internal error: {exc.__class__.__name__}: {exc} (set MVGEN_DEBUG=1 for the traceback)", exc)

    return wrapper


def _fail(message: str, exc: BaseException) -> None:
    if os.environ.get("MVGEN_DEBUG"):
        raise exc
    err.print(f"mvgen: error: {' '.join(message.split())}", markup=False)
    raise typer.Exit(1)


def _fmt_time(t_s: float) -> str:
    minutes, seconds = divmod(t_s, 60.0)
    return f"{int(minutes)}:{seconds:05.2f}"


def print_analysis(analysis) -> None:
    """Print a compact summary of an :class:`~mvgen.analysis.Analysis`."""
    tempo = "no steady beat" if analysis.tempo_bpm is None else f"{analysis.tempo_bpm:.2f} bpm"
    if len(analysis.tempo_spans) > 1:
        tempo += " (changes: " + ", ".join(f"{s.bpm:.1f} from {_fmt_time(s.start_s)}" for s in analysis.tempo_spans) + ")"
    meter = f"  {analysis.beats_per_bar}/4" if analysis.tempo_bpm is not None else ""
    out.print(f"[bold]{analysis.audio.path}[/]  {_fmt_time(analysis.duration_s)}  {tempo}{meter}")
    out.print(f"beats: {len(analysis.beats_s)}  downbeats: {len(analysis.downbeats_s)}  drops: " + (", ".join(f"{_fmt_time(d.start_s)}-{_fmt_time(d.end_s)}" for d in analysis.drops) or "none"))
    table = Table("section", "start", "end", "bars", box=None, pad_edge=False)
    downbeats = analysis.downbeats_s
    for s in analysis.sections:
        bars = sum(1 for t in downbeats if s.start_s <= t < s.end_s)
        table.add_row(s.label, _fmt_time(s.start_s), _fmt_time(s.end_s), str(bars))
    out.print(table)


@app.command()
@_command
def analyze(
    track: Path = typer.Argument(..., help="Audio file (wav, flac, ogg, mp3, m4a, ...)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the analysis as JSON here."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached analysis exists."),
) -> None:
    """Find tempo, beats, downbeats, drops and sections of a track."""
    from mvgen.analysis import analyze as run_analysis

    with err.status(f"analyzing {track}"):
        analysis = run_analysis(track, use_cache=not no_cache)
    print_analysis(analysis)
    if json_path is not None:
        analysis.save(json_path)
        out.print(f"analysis written to {json_path}")


@app.command()
@_command
def synth(
    output: Path = typer.Argument(..., help="Audio file to write (.wav, .flac or .ogg); the ground truth goes beside it as .json."),
    genre: list[str] = typer.Option(["progressive_house"], "--genre", "-g", help="Sub-genre per major part, in order (repeat), or a blend like 'future_house=0.7,bass_house=0.3'."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same track."),
    bpm: Optional[float] = typer.Option(None, help="Tempo; default: drawn from the first sub-genre's range."),
    bars_scale: float = typer.Option(1.0, "--bars-scale", help="Scale the length of every section (0.25 to 4)."),
    sr: int = typer.Option(44100, help="Sample rate (Hz)."),
    mono: bool = typer.Option(False, "--mono", help="Write mono instead of stereo."),
) -> None:
    """Render a seeded synthetic house track with its ground truth (tempo, beats, sections, genres)."""
    from mvgen import synth as synthesis

    parts: list = []
    for item in genre:
        if "=" in item:
            try:
                parts.append({k.strip(): float(v) for k, v in (kv.split("=", 1) for kv in item.split(","))})
            except ValueError:
                raise MvgenError(f"--genre {item!r}: a blend is written like 'future_house=0.7,bass_house=0.3'") from None
        else:
            parts.append(item)
    try:
        arrangement = synthesis.default_arrangement(parts if len(parts) > 1 or isinstance(parts[0], str) else parts[0], seed=seed, bars_scale=bars_scale)
        if bpm is not None:
            arrangement = arrangement.model_copy(update={"bpm": bpm})
        audio, truth = synthesis.render(arrangement, seed=seed, sr=sr, stereo=not mono)
    except ValueError as exc:
        raise MvgenError(str(exc)) from None
    sidecar = synthesis.write_track(output, audio, truth)
    out.print(f"wrote {output} ({_fmt_time(truth.duration_s)}, {truth.tempo_bpm:.2f} bpm) and {sidecar}")


@app.command()
@_command
def doctor() -> None:
    """Check the installation: packages, CUDA, ffmpeg, bundled classifier, cache."""
    from mvgen.doctor import run_checks

    checks = run_checks()
    table = Table("check", "", box=None, pad_edge=False)
    table.add_column("detail", overflow="fold")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]MISSING[/]" if c.required else "[yellow]no[/]")
        detail = c.detail + (f"  -> {c.fix}" if (not c.ok and c.fix) else "")
        table.add_row(c.name, mark, detail)
    out.print(table)
    failed = [c for c in checks if c.required and not c.ok]
    if failed:
        err.print(f"mvgen doctor: {len(failed)} required check(s) failed: {', '.join(c.name for c in failed)}", markup=False)
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - `python -m mvgen`
    app(prog_name="mvgen")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
