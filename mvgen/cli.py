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

import numpy as np

import typer
from rich.console import Console
from rich.table import Table

from mvgen.clock import format_clock
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


def _analyze(track: Path, **kwargs):
    """The track's analysis (cached), with a spinner while it runs."""
    from mvgen.analysis.track import analyze as run_analysis

    with err.status(f"analyzing {track}"):
        return run_analysis(track, **kwargs)


def print_analysis(analysis) -> None:
    """Print a compact summary of an :class:`~mvgen.analysis.track.Analysis`."""
    tempo = "no steady beat" if analysis.tempo_bpm is None else f"{analysis.tempo_bpm:.2f} bpm"
    if len(analysis.tempo_spans) > 1:
        tempo += " (changes: " + ", ".join(f"{s.bpm:.1f} from {format_clock(s.start_s, 2)}" for s in analysis.tempo_spans) + ")"
    meter = f"  {analysis.beats_per_bar}/4  (beat confidence {analysis.beat_confidence:.2f})" if analysis.tempo_bpm is not None else ""
    out.print(f"[bold]{analysis.audio.path}[/]  {format_clock(analysis.duration_s, 2)}  {tempo}{meter}")
    out.print(f"beats: {len(analysis.beats_s)}  downbeats: {len(analysis.downbeats_s)}  drops: " + (", ".join(f"{format_clock(d.start_s, 2)}-{format_clock(d.end_s, 2)}" for d in analysis.drops) or "none"))
    from mvgen.genres import display_name
    from mvgen.report.timeline import section_genres, track_genre_lines

    table = Table("section", "start", "end", "bars", "sub-genres", box=None, pad_edge=False)
    downbeats = analysis.downbeats_s
    for s in section_genres(analysis):
        bars = sum(1 for t in downbeats if s.start_s <= t < s.end_s)
        genres = "  ".join(f"{display_name(g)} {share:.0%}" for g, share in s.top) or "-"
        table.add_row(s.label, format_clock(s.start_s, 2), format_clock(s.end_s, 2), str(bars), genres)
    out.print(table)
    profile = analysis.genre_profile
    if profile is not None and profile.in_scope:
        confidence = np.asarray(profile.in_scope)
        out.print(f"genre model {profile.model or '?'} ({len(profile.labels)} classes): within its genres on {np.mean(confidence >= 0.5):.0%} of the track "
                  f"(mean confidence {confidence.mean():.2f}); elsewhere the video uses the neutral style")
        tracks = track_genre_lines(analysis)
        if tracks:
            out.print(("genre: " if len(tracks) == 1 else f"{len(tracks)} tracks:\n  ") + "\n  ".join(tracks))
    not_music = [f"{format_clock(s.start_s, 2)}-{format_clock(s.end_s, 2)} {s.kind}" for s in analysis.signal if s.kind != "music"]
    if not_music:
        out.print("not music: " + ", ".join(not_music))


@app.command()
@_command
def analyze(
    track: Path = typer.Argument(..., help="Audio file (wav, flac, ogg, mp3, m4a, ...)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the analysis as JSON here."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached analysis exists."),
    classifier: Optional[str] = typer.Option(None, "--classifier", "--model", "-m", help="Genre classifier: folder or Hub id (default: the bundled one)."),
    no_profile: bool = typer.Option(False, "--no-profile", help="Skip the sub-genre profile."),
) -> None:
    """Find tempo, beats, downbeats, drops, sections and the sub-genre profile of a track."""
    analysis = _analyze(track, use_cache=not no_cache, classifier=classifier, genre_profile=not no_profile)
    print_analysis(analysis)
    if json_path is not None:
        analysis.save(json_path)
        out.print(f"analysis written to {json_path}")


@app.command()
@_command
def synth(
    output: Path = typer.Argument(..., help="Audio file to write (.wav, .flac or .ogg); the ground truth goes beside it as .json."),
    genre: list[str] = typer.Option(["progressive_house"], "--genre", "-g", help="Sub-genre or other style (mvgen.synth.STYLES: drum_and_bass, hip_hop, rock ...) per major part, in order (repeat), or a blend like 'future_house=0.7,bass_house=0.3'."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same track."),
    bpm: Optional[float] = typer.Option(None, help="Tempo; default: drawn from the first sub-genre's range."),
    bars_scale: float = typer.Option(1.0, "--bars-scale", help="Scale the length of every section (0.25 to 4)."),
    sr: int = typer.Option(44100, help="Sample rate (Hz)."),
    mono: bool = typer.Option(False, "--mono", help="Write mono instead of stereo."),
) -> None:
    """Render a seeded synthetic track (house, or an out-of-scope style) with its ground truth (tempo, beats, sections, genres)."""
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
    out.print(f"wrote {output} ({format_clock(truth.duration_s, 2)}, {truth.tempo_bpm:.2f} bpm) and {sidecar}")


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)


def _labelled_clips(tracks, model_config, clips_per_drop: int, seed: int):
    from mvgen.training.train import clips_from_tracks

    with _progress() as progress:
        task = progress.add_task("decoding and cutting clips", total=len(tracks))
        return clips_from_tracks(tracks, model_config, clips_per_drop=clips_per_drop, seed=seed, on_track=lambda: progress.advance(task))


@app.command()
@_command
def train(
    labels: Path = typer.Argument(..., help="A CSV (path + one weight column per class, or path,label; any class names; 'other' marks negatives), or a HouseX-v2 folder (or folder of them)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder: checkpoints (resumable) and the best model in OUT/best (with --head-only: the model in OUT)."),
    base: Optional[str] = typer.Option(None, "--from", help="Start from this classifier (folder or Hub id; 'default': the bundled one)."),
    head_only: bool = typer.Option(False, "--head-only", help="Train only a new head (your classes + out-of-scope) on the frozen backbone of --from: minutes on a CPU."),
    negatives: bool = typer.Option(True, "--negatives/--no-negatives", help="Add built-in out-of-scope examples (noise, tones, sweeps, speech, silence, and synthetic styles that are not among the classes)."),
    cv: int = typer.Option(0, "--cv", min=0, help="With --head-only: track-grouped cross-validation folds to report (0: none)."),
    epochs: int = typer.Option(30, help="Maximum epochs (training stops early when validation stops improving)."),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(2e-3, help="AdamW learning rate."),
    patience: int = typer.Option(4, help="Epochs without validation improvement before stopping."),
    seed: int = typer.Option(0, help="Seed of the split, clip positions and initialization."),
    device: Optional[str] = typer.Option(None, help="cuda or cpu (default: cuda when usable)."),
) -> None:
    """Train the genre classifier on labelled tracks (split by track; resumes an interrupted run)."""
    from mvgen.classify.classifier import default_checkpoint, load_classifier
    from mvgen.training import train as training
    from mvgen.training.labels import read_labels

    label_set = read_labels(labels, check_audio=True)
    provenance = {"labels": str(labels), "command": " ".join(sys.argv), "from": base}
    base_model = None
    if base is not None:
        source = default_checkpoint() if base == "default" else base
        if source is None:
            raise MvgenError("--from default: no bundled classifier is installed")
        base_model = load_classifier(source, device="cpu" if head_only else device)
    if head_only:
        if base_model is None:
            raise MvgenError("--head-only needs --from MODEL (the backbone to keep)")
        config = training.HeadConfig(seed=seed)
        model_config = training.head_config(base_model.config, label_set.labels, provenance=provenance)
        with _progress() as progress:
            task = progress.add_task("backbone features", total=len(label_set.tracks))
            windows = training.labelled_windows(base_model, label_set.tracks, model_config, stride=config.window_stride, on_track=lambda: progress.advance(task))
        if negatives:
            with err.status("built-in out-of-scope examples"):
                windows = training.WindowSet.concat([windows, training.clip_windows(base_model, training.builtin_negatives(model_config, seed=seed))])
        with err.status("training the head" + (f" ({cv}-fold cross-validation first)" if cv > 1 else "")):
            result = training.train_head(windows, base_model, label_set.labels, out_dir, config=config, cv_folds=cv, provenance=provenance)
        cv_text = f"; {len(result.cv_top1)}-fold cross-validation top-1 {np.mean(result.cv_top1):.3f} +- {np.std(result.cv_top1):.3f}" if result.cv_top1 else ""
        out.print(f"model for {', '.join(result.labels)} (+ other): {result.model_dir}; held-out top-1 {result.val_top1:.3f} on {result.val_tracks} tracks, "
                  f"calibration error {result.val_ece:.3f} (temperature {result.temperature:.2f}){cv_text}")
        return

    settings = training.TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed)
    model_config = training.head_config(base_model.config if base_model is not None else None, label_set.labels, provenance=provenance)
    clips = _labelled_clips(label_set.tracks, model_config, settings.clips_per_drop, seed)
    if negatives:
        with err.status("built-in out-of-scope examples"):
            clips += training.builtin_negatives(model_config, seed=seed)
    train_clips, val_clips = training.split_by_track(clips, val_fraction=settings.val_fraction, seed=seed)
    with _progress() as progress:
        task = progress.add_task("epoch 1", total=None)

        def on_batch(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        def on_epoch(record: dict) -> None:
            progress.update(task, description=f"epoch {record['epoch'] + 1}")
            err.print(f"epoch {record['epoch']}: train loss {record['train_loss']:.3f}  val loss {record['val_loss']:.3f}  val top-1 {record['val_top1']:.3f}", markup=False)

        result = training.train(train_clips, val_clips, out_dir, model_config=model_config, config=settings, device=device, on_epoch=on_epoch, on_batch=on_batch, init_from=base_model)
    out.print(f"best model (epoch {result.best_epoch}, val loss {result.best_val_loss:.3f}, temperature {result.temperature:.2f}): {result.best_dir}")


@app.command(name="eval")
@_command
def evaluate(
    labels: Path = typer.Argument(..., help="Labelled tracks: a CSV (any classes) or a HouseX-v2 folder."),
    classifier: Optional[str] = typer.Option(None, "--classifier", "--model", "-m", help="Classifier folder or Hub id (default: the bundled one)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON here."),
    seed: int = typer.Option(0, help="Seed of the clip positions."),
) -> None:
    """Evaluate a classifier on labelled tracks: the paper's metrics, soft-label metrics and the calibration error."""
    from mvgen.classify.classifier import default_checkpoint, load_classifier
    from mvgen.training.labels import read_labels
    from mvgen.training.metrics import evaluate_clips, format_report

    source = classifier or default_checkpoint()
    if source is None:
        raise MvgenError("no bundled classifier installed; pass --classifier FOLDER_OR_HUB_ID")
    model = load_classifier(source)
    clips = _labelled_clips(read_labels(labels, check_audio=True).tracks, model.config, 4, seed)
    report = evaluate_clips(model, clips)
    out.print(format_report(report), markup=False, highlight=False)
    if json_path is not None:
        json_path.write_text(report.model_dump_json(indent=1))
        out.print(f"report written to {json_path}")


@app.command()
@_command
def timeline(
    track: Path = typer.Argument(..., help="Audio file."),
    png: Optional[Path] = typer.Option(None, "--png", "-o", help="Where to write the picture (default: TRACK.timeline.png beside the track)."),
    classifier: Optional[str] = typer.Option(None, "--classifier", "--model", "-m", help="Genre classifier: folder or Hub id (default: the bundled one)."),
) -> None:
    """Print the genre timeline of a track (sections with their dominant sub-genres) and draw it as a PNG."""
    from mvgen.report.timeline import format_timeline
    from mvgen.report.timeline_plot import plot_timeline

    analysis = _analyze(track, classifier=classifier)
    out.print(format_timeline(analysis), markup=False, highlight=False)
    written = plot_timeline(analysis, png or track.with_name(track.name + ".timeline.png"))
    out.print(f"timeline written to {written}")


@app.command()
@_command
def render(
    track: Path = typer.Argument(..., help="Audio file (wav, flac, ogg, mp3, m4a, ...)."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Output .mp4 (default: beside the track)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Platform preset (see `mvgen formats list`): sets the picture, fps, length and encoding; --size may still change the size, --aspect and --fps may not."),
    aspect: Optional[str] = typer.Option(None, help="16:9 (default), 9:16 (vertical, re-framed), 4:5 or 1:1."),
    size: Optional[int] = typer.Option(None, help="Short side in pixels (default 720: 1280x720 at 16:9; with --format, the preset's)."),
    fps: Optional[float] = typer.Option(None, help="Frames per second (default 30)."),
    start: float = typer.Option(0.0, "--start", help="Excerpt start (s)."),
    end: Optional[float] = typer.Option(None, "--end", help="Excerpt end (s)."),
    clip: Optional[float] = typer.Option(None, "--clip", help="Render the strongest clip of at most this many seconds (e.g. 15, 30, 60): the first drop, then energy and novelty; whole bars, cut on downbeats."),
    teaser: Optional[float] = typer.Option(None, "--teaser", help="The old name of --clip (the same picker)."),
    styles: Optional[Path] = typer.Option(None, "--styles", help="Style file or folder overriding the default styles."),
    classifier: Optional[str] = typer.Option(None, "--classifier", help="Genre classifier (folder or Hub id) whose classes the styles follow (default: the bundled one)."),
    seed: int = typer.Option(0, help="Seed of the visuals."),
    detail: Optional[float] = typer.Option(None, help="Draw at this fraction of the size, then upscale (0-1]; default 1 on a GPU, 0.5 on a CPU."),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the renderer (default: on a CPU for renders over ~10 s)."),
    renderer: str = typer.Option("procedural", "--renderer", help="procedural (built in, no weights) or diffusion (a diffusers model)."),
    model: Optional[str] = typer.Option(None, "--model", help="Diffusion model: Hub id or local folder (default stabilityai/sd-turbo)."),
    fast_vae: Optional[str] = typer.Option(None, "--fast-vae", help="TAESD-style decoder (Hub id or folder, e.g. madebyollin/taesd) for faster diffusion decoding."),
    steps: int = typer.Option(2, "--steps", help="Diffusion denoising steps (turbo models: 1-4)."),
    diffusion_size: int = typer.Option(512, "--diffusion-size", help="Short side of the generated pictures (pixels)."),
    method: str = typer.Option("keyframes", "--method", help="Diffusion coherence: keyframes (beat keyframes, interpolated) or fixed-noise (every frame)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted render of the same settings (refused while another render writes the same output)."),
    loudness: Optional[float] = typer.Option(None, "--loudness", help="Also write a copy at this integrated loudness (LUFS, e.g. -14), one constant gain, true peak <= -1 dBTP: TRACK.-14LUFS.mp4."),
    thumbnail: bool = typer.Option(False, "--thumbnail", help="Also write a 1280x720 JPEG (<= 2 MB) of the most striking frame after the first drop: OUT.thumbnail.jpg."),
    preview_loop: Optional[str] = typer.Option(None, "--preview-loop", help="Also write a short muted endless loop from the first drop: gif or webp (OUT.loop.gif)."),
    artist: Optional[str] = typer.Option(None, "--artist", help="Artist name, drawn large in the safe zone.", rich_help_panel="Branding"),
    title: Optional[str] = typer.Option(None, "--title", help="Track title, drawn large under the artist.", rich_help_panel="Branding"),
    label: Optional[str] = typer.Option(None, "--label", help="Record label, drawn small.", rich_help_panel="Branding"),
    release_date: Optional[str] = typer.Option(None, "--release-date", help="Release date as it should read (e.g. '4 December 2026'), drawn small.", rich_help_panel="Branding"),
    logo: Optional[Path] = typer.Option(None, "--logo", help="Logo: PNG with alpha, or SVG; top right of the safe zone.", rich_help_panel="Branding"),
    cover: Optional[Path] = typer.Option(None, "--cover", help="Cover art of the release (for the end card).", rich_help_panel="Branding"),
    font: Optional[Path] = typer.Option(None, "--font", help="Font file (.ttf/.otf) for all text (default: DejaVu Sans Bold).", rich_help_panel="Branding"),
    lyrics: Optional[Path] = typer.Option(None, "--lyrics", help="Lyrics (.lrc or .srt), burnt in and written beside the video as .srt and .vtt captions.", rich_help_panel="Branding"),
    end_card: Optional[float] = typer.Option(None, "--end-card", help="Seconds of end card (cover, artist, title, call to action) at the end, at most a fifth of the video; 0: none. Default 3.", rich_help_panel="Branding"),
    call_to_action: Optional[str] = typer.Option(None, "--call-to-action", help='The end card\'s call to action (default "Out now").', rich_help_panel="Branding"),
    palette_from_cover: bool = typer.Option(False, "--palette-from-cover", help="Tint the styles with the 5 main colours of the cover art (needs --cover).", rich_help_panel="Branding"),
) -> None:
    """Render a music video synced to the track (default: the procedural renderer, no model weights needed).

    The video's loudness (integrated LUFS, true peak) is measured and printed; the master's audio is never changed."""
    from pydantic import ValidationError

    from mvgen.delivery.deliverables import DeliverableOptions
    from mvgen.interrupts import sigterm_interrupts
    from mvgen.pipeline import render_track
    from mvgen.settings import RenderSettings

    if format is not None:
        for flag, value in (("aspect", aspect), ("fps", fps)):
            if value is not None:
                raise MvgenError(f"--{flag}: --format {format} sets it; leave it out (only --size may change a format)")
    if clip is not None and teaser is not None and clip != teaser:
        raise MvgenError(f"--teaser {teaser:g} is the old name of --clip {clip:g}; give one of them")
    renamed = {("clip_s",): "teaser"} if clip is None and teaser is not None else {}  # a bad length is named by the flag given
    picture = {k: v for k, v in (("size", size), ("aspect", aspect), ("fps", fps)) if v is not None}  # left out: the defaults, or the format's
    files = {k: None if v is None else str(v) for k, v in dict(logo=logo, cover=cover, font=font, lyrics=lyrics).items()}
    end_card_options = {k: v for k, v in (("end_card_s", end_card), ("call_to_action", call_to_action)) if v is not None}
    diffusion = dict(fast_vae=fast_vae, steps=steps, size=diffusion_size, method=method, **({"model": model} if model else {}))  # left out: the default model
    try:
        settings = RenderSettings(**picture, format=format, start_s=start, end_s=end, clip_s=clip if clip is not None else teaser, styles=None if styles is None else str(styles),
                                  classifier=classifier, seed=seed, detail=detail, compile=compile, renderer=renderer, diffusion=diffusion,
                                  branding=dict(artist=artist, title=title, label=label, release_date=release_date, **files, **end_card_options, palette_from_cover=palette_from_cover))
        deliverables = DeliverableOptions(loudness=loudness, thumbnail=thumbnail, preview_loop=preview_loop)
    except ValidationError as exc:
        raise _option_error(exc, renamed) from None
    # SIGTERM (timeout, systemd, Kubernetes, Ray) stops the render as Ctrl-C does: encoders ended, chunks kept.
    # Every input is checked by the library before the analysis, and the output locked (another render writing it fails this one at once).
    with sigterm_interrupts():
        try:
            with _progress() as progress:
                task = progress.add_task("rendering", total=None)
                rendered = render_track(track, out_path, settings, resume=resume, on_progress=lambda d, n: progress.update(task, completed=d, total=n),
                                        on_status=lambda text: progress.update(task, description=text))
        except KeyboardInterrupt as exc:
            err.print("mvgen: interrupted; run the same command with --resume to continue", markup=False)
            raise typer.Exit(getattr(exc, "exit_code", 130)) from None
    out.print(f"video written to {rendered.video}")
    _deliver(rendered, deliverables)


#: Render flags whose name is not their field's by the rule of :func:`flag_name`.
FLAG_EXCEPTIONS = {("diffusion", "size"): "diffusion-size"}  # --size is the video's


def flag_name(loc: tuple) -> str:
    """The ``mvgen render`` flag (without ``--``) of the :class:`~mvgen.settings.RenderSettings` or
    :class:`~mvgen.delivery.deliverables.DeliverableOptions` field at pydantic location ``loc``.

    The rule: the field's own name (the last part of a nested one), less a unit suffix ``_s``, with
    ``-`` for ``_``: ``start_s`` -> ``start``, ``("branding", "end_card_s")`` -> ``end-card``,
    ``("diffusion", "fast_vae")`` -> ``fast-vae``; :data:`FLAG_EXCEPTIONS` lists the others."""
    loc = tuple(loc)
    if loc in FLAG_EXCEPTIONS:
        return FLAG_EXCEPTIONS[loc]
    return str(loc[-1]).removesuffix("_s").replace("_", "-")


def _option_error(exc, renamed: dict[tuple, str]) -> MvgenError:
    """The first error of a pydantic ``ValidationError`` of the render options as ``"--<flag>: <problem>"``
    (``renamed``: flags given under another name than :func:`flag_name`'s); a check across options
    (no field: ``--clip`` with ``--start``, a format's limits) is its message alone, which names them."""
    from mvgen.errors import validation_problem

    first = exc.errors()[0]
    loc = tuple(first["loc"])
    if not loc:
        return MvgenError(validation_problem(first))
    return MvgenError(f"--{renamed.get(loc) or flag_name(loc)}: {validation_problem(first)}")


def _deliver(rendered, options) -> None:
    """Measure the video's loudness and write the deliverables ``options`` asks for; print what was
    written and a table of every file with its checks. Every deliverable is attempted; when any
    failed, each is named with its reason and the command exits 1 after all were tried."""
    from rich.text import Text

    from mvgen.delivery.deliverables import check_deliverables

    with err.status("loudness" + (", normalized copy" if options.loudness is not None else "") + (", thumbnail" if options.thumbnail else "")
                    + (f", {options.preview_loop} loop" if options.preview_loop else "")):
        made = rendered.deliver(options)
    out.print("loudness: " + (made.loudness.describe() if made.loudness is not None else "not measured" if any(f.kind == "loudness" for f in made.failures) else "no audio"), markup=False)
    for warning in made.warnings:
        _show_warning(warning, UserWarning, "", 0)
    if made.normalized is not None:
        n = made.normalized
        out.print(f"normalized copy written to {n.path}: {n.after.describe()} ({n.describe()})", markup=False)
    if made.thumbnail is not None:
        t = made.thumbnail
        out.print(f"thumbnail written to {t.path}: frame at {format_clock(t.time_s, 2)}, {t.size_bytes / 1e3:.0f} kB (JPEG quality {t.quality})", markup=False)
    if made.preview_loop is not None:
        p = made.preview_loop
        out.print(f"loop written to {p.path}: {p.duration_s:.2f} s from {format_clock(p.start_s, 2)}, {p.n_frames} frames, {p.size_bytes / 1e3:.0f} kB", markup=False)
    # every file with its checks (the video against its format's published limits, without one the upload spec), and what failed
    preset = rendered.settings.preset()
    table = Table("file", "kind", "result", "checks", box=None, pad_edge=False)
    for d in check_deliverables(rendered.video, preset, made.failures):
        failed = [f"{c.name}: {c.why}" for c in d.checks if not c.passed]
        table.add_row(Text(d.path.name), Text(d.kind), Text("ok", style="green") if not failed else Text("FAILED", style="red"),
                      Text(f"all {len(d.checks)} passed" if not failed else "; ".join(failed)))
    out.print(table)
    if made.failures:
        for failure in made.failures:
            if os.environ.get("MVGEN_DEBUG") and failure.error is not None and not isinstance(failure.error, MvgenError):
                import traceback

                traceback.print_exception(failure.error, file=sys.stderr)
            err.print(f"mvgen: error: {failure.kind} failed: {' '.join(failure.problem.split())}", markup=False)
        tried = 1 + (options.loudness is not None) + options.thumbnail + (options.preview_loop is not None)
        err.print(f"mvgen: error: {len(made.failures)} of {tried} deliverables failed ({', '.join(f.kind for f in made.failures)}); "
                  f"the video and the rest were written", markup=False)
        raise typer.Exit(1)


@app.command()
@_command
def batch(
    manifest: Path = typer.Argument(..., help="Batch manifest (YAML): tracks, formats, clips, overrides, output naming."),
    executor: str = typer.Option("local", "--executor", help="local (processes on this machine) or ray (a Ray cluster)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: start a local instance)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Parallel jobs on this machine (default: one per GPU, else one per 4 cores, at least 2)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report here (it is always in the output folder)."),
) -> None:
    """Render every track of a manifest in every format and clip; skips finished outputs on a rerun."""
    from mvgen.batch import format_report, run_batch
    from mvgen.interrupts import sigterm_interrupts

    if executor not in ("local", "ray"):
        raise MvgenError(f"--executor: {executor!r} is not one of: local, ray")
    try:
        # SIGTERM stops the batch as Ctrl-C does (its workers are interrupted too, their chunks kept)
        with sigterm_interrupts(), _progress() as progress:
            task = progress.add_task("batch", total=None)
            report = run_batch(manifest, executor=executor, workers=jobs, ray_address=ray_address,
                               on_progress=lambda d, n, name: progress.update(task, completed=d, total=n, description=f"batch {name}"[:60]))
    except KeyboardInterrupt as exc:
        err.print("mvgen: interrupted; run the same command to continue (finished videos are skipped, unfinished ones resume)", markup=False)
        raise typer.Exit(getattr(exc, "exit_code", 130)) from None
    except MvgenError as exc:  # a manifest's problems, one per line, all at once
        if os.environ.get("MVGEN_DEBUG"):
            raise
        for line in str(exc).splitlines():
            err.print(f"mvgen: error: {line}", markup=False)
        raise typer.Exit(1) from None
    table = Table("output", "status", "seconds", "platform checks", "error", box=None, pad_edge=False)
    for row in format_report(report):
        table.add_row(*row)
    out.print(table)
    counts = report.counts()
    out.print(f"{counts['done']} rendered, {counts['skipped']} already there, {counts['failed']} failed in {report.seconds:.0f} s; report: {report.path}")
    if json_out is not None:
        json_out.write_text(report.model_dump_json(indent=1))
    if counts["failed"]:
        raise typer.Exit(1)


@app.command()
@_command
def preview(
    track: Path = typer.Argument(..., help="Audio file."),
    out_path: Path = typer.Option(..., "--out", "-o", help="The page to write (.html)."),
    video: Optional[Path] = typer.Option(None, "--video", help="A rendered video to play instead of the audio (linked, not embedded); its deliverables are listed with their checks."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="The platform preset the video was rendered for: its checks are that platform's (default: the upload spec)."),
    classifier: Optional[str] = typer.Option(None, "--classifier", help="Genre classifier: folder or Hub id (default: the bundled one)."),
) -> None:
    """Write an offline HTML page: the genre timeline with a player that follows it and seeks on click;
    with --video, also the video's deliverables (thumbnail, loops, normalized copies, captions) and their checks."""
    from mvgen.delivery.deliverables import check_deliverables
    from mvgen.delivery.formats import get_preset
    from mvgen.report.preview import write_preview

    preset = get_preset(format) if format is not None else None
    if video is not None and not video.is_file():
        raise MvgenError("no such video file", video)
    analysis = _analyze(track, classifier=classifier)
    deliverables = check_deliverables(video, preset) if video is not None else ()
    out.print(f"preview written to {write_preview(track, out_path, video=video, analysis=analysis, deliverables=deliverables)}")


@app.command()
@_command
def studio(
    tracks: list[Path] = typer.Argument(..., help="Audio files to shape the styles on."),
    styles: Path = typer.Option(Path("my-styles"), "--styles", help="The styles folder to edit (created if missing; one <class>.yaml per class)."),
    out_dir: Path = typer.Option(Path("renders"), "--out", "-o", help="Where renders started from the page go (one studio-<id> folder each)."),
    classifier: Optional[str] = typer.Option(None, "--classifier", help="Genre classifier: folder or Hub id (default: the bundled one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but 127.0.0.1 exposes the studio to the network."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open the page in a browser."),
) -> None:
    """Shape each sub-genre's look while watching the track: a local web page with the genre timeline,
    the frame at the playhead and an editor for every class's style (Ctrl-C stops it)."""
    from mvgen.studio import StudioOptions, analyze_tracks, serve

    if host != "127.0.0.1":
        err.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it and has the token can read the tracks and write the styles")
    options = StudioOptions(tracks=tuple(tracks), styles_dir=styles, output_dir=out_dir, classifier=classifier, host=host, port=port)
    with err.status(f"analyzing {len(tracks)} track{'s' if len(tracks) != 1 else ''}"):
        analyses = analyze_tracks(options)

    def ready(url: str) -> None:
        out.print(f"mvgen studio: {url}  (Ctrl-C to stop)")
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    serve(options, analyses=analyses, on_ready=ready)


formats_app = typer.Typer(help="Platform presets for --format and batch manifests.", no_args_is_help=True)
app.add_typer(formats_app, name="formats")


@formats_app.command("list")
@_command
def formats_list() -> None:
    """Print every platform preset's exact settings: picture, fps, length, video, audio, size cap, notes."""
    from mvgen.delivery.formats import format_table

    table = Table("format", "picture", "fps", "length", "video", "audio", "size cap", "notes", box=None, pad_edge=False)
    for row in format_table():
        table.add_row(*row)
    out.print(table, markup=False, highlight=False)


styles_app = typer.Typer(help="List, show, validate and copy the per-sub-genre style files.", no_args_is_help=True)
app.add_typer(styles_app, name="styles")


_STYLE_CLASSIFIER_HELP = "Genre classifier (folder or Hub id) whose classes the styles are for (default: the bundled one)."


def _style_labels(classifier: Optional[str]) -> tuple[str, ...]:
    from mvgen.classify.checkpoints import classifier_labels

    return classifier_labels(classifier)


@styles_app.command("list")
@_command
def styles_list(styles: Optional[Path] = typer.Option(None, "--styles", help="Overrides to apply."),
                classifier: Optional[str] = typer.Option(None, "--classifier", help=_STYLE_CLASSIFIER_HELP)) -> None:
    """List the styles (one per class of the genre model, and `other`) with their motifs and colours."""
    from mvgen.style.styles import load_styles

    table = Table("class", "motifs", "colours", box=None, pad_edge=False)
    for key, style in load_styles(styles, labels=_style_labels(classifier)).items():
        motifs = ", ".join(f"{m} {w:g}" for m, w in style.procedural.motifs.items())
        table.add_row(key, motifs, " ".join(style.palette.colors))
    out.print(table)


@styles_app.command("show")
@_command
def styles_show(genre: str = typer.Argument(..., help="Class key or name (or `other`)."), styles: Optional[Path] = typer.Option(None, "--styles"),
                classifier: Optional[str] = typer.Option(None, "--classifier", help=_STYLE_CLASSIFIER_HELP)) -> None:
    """Print one style as YAML (after overrides)."""
    import yaml

    from mvgen.genres import genre_key
    from mvgen.style.styles import load_styles, style_keys

    labels = _style_labels(classifier)
    try:
        key = genre_key(genre, style_keys(labels))
    except ValueError as exc:
        raise MvgenError(str(exc)) from None
    out.print(yaml.safe_dump(load_styles(styles, labels=labels)[key].model_dump(mode="json"), sort_keys=False), markup=False, highlight=False)


@styles_app.command("validate")
@_command
def styles_validate(path: Path = typer.Argument(..., help="Style file or folder."),
                    classifier: Optional[str] = typer.Option(None, "--classifier", help=_STYLE_CLASSIFIER_HELP)) -> None:
    """Check style files; every problem is one line naming file, line and field."""
    from mvgen.style.styles import validate_styles

    problems = validate_styles(path, labels=_style_labels(classifier))
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise typer.Exit(1)
    out.print(f"{path}: valid")


@styles_app.command("init")
@_command
def styles_init(folder: Path = typer.Argument(..., help="Folder for editable copies of the default styles."),
                classifier: Optional[str] = typer.Option(None, "--classifier", "--model", help=_STYLE_CLASSIFIER_HELP)) -> None:
    """Write one editable style per class of the genre model, plus other.yaml (the neutral style), into FOLDER."""
    from mvgen.style.styles import init_styles

    written = init_styles(folder, labels=_style_labels(classifier))
    out.print(f"wrote {len(written)} style files to {folder}; edit them and pass --styles {folder}")


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
