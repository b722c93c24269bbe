"""The render pipeline: analysis -> frame specs -> frames -> encoded chunks -> the finished video.

Entry points: :func:`render` (the library's ``mvgen.render``: options checked as
:class:`~mvgen.settings.RenderSettings` fields), :func:`render_video` (settings given whole) and
:func:`render_track` (the same, returning the :class:`Rendered` video with the analysis it was drawn
from, which makes its deliverables). The steps, in order: check every input the settings name (the
branding's files and layout, rasterizing its overlay once, and the styles), so a bad one fails
before anything slow runs or anything is written; lock the output (:mod:`mvgen.workspace`); analyze
the track; map the styles to one frame spec per frame in the video's window (:mod:`mvgen.clips`,
:mod:`mvgen.style`); draw and encode the body chunk by chunk, then the end card; mux with the audio. Work happens in ``.<output>.work/`` (see :mod:`mvgen.workspace`), so
an interrupted render resumes from its last finished chunk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mvgen.analysis import Analysis, analyze
from mvgen.brand.branding import Overlay, build_overlay, write_sidecars
from mvgen.clips import calmest_cut, clip_window, cut_candidates, loop_draft, rotate_loop
from mvgen.errors import MvgenError, validation_error
from mvgen.media.assemble import CUT_FADE_S, ChunkWriter, VideoWindow, gop_frames, mux
from mvgen.media.pixels import PIX_FMT
from mvgen.renderers.factory import procedural_renderer
from mvgen.delivery.formats import encodings
from mvgen.settings import RenderSettings
from mvgen.workspace import DISK_FULL, StaleWorkError, WorkManifest, default_output, output_lock, work_key

if TYPE_CHECKING:
    from mvgen.delivery.deliverables import DeliverableOptions, Deliverables


def render(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    settings: RenderSettings | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    analysis: Analysis | None = None,
    **options: Any,
) -> Path:
    """Render the music video of the track at ``path`` into ``out`` (an .mp4; default beside the
    track) and return the path of the finished file.

    ``options`` are fields of :class:`mvgen.settings.RenderSettings`, applied over ``settings`` (or
    the defaults): ``size`` (short side, pixels), ``aspect`` ("16:9", "9:16", "1:1", "4:5"), ``fps``,
    ``format`` (a platform preset of :mod:`mvgen.delivery.formats`: it sets aspect and fps, and size
    unless given), ``start_s`` / ``end_s`` (an excerpt, seconds), ``clip_s`` (the strongest clip of
    at most that many seconds, whole bars around the first drop), ``loop`` (a seamless loop of the
    first drop's bars, no audio), ``renderer`` ("procedural" or "diffusion"), ``diffusion``,
    ``styles`` (file or folder), ``classifier`` (folder or Hub id), ``seed``, ``detail``,
    ``compile``, ``chunk_frames``, ``batch_frames``; they are checked by ``RenderSettings`` and a bad
    one is a :class:`MvgenError`. ``resume=True`` continues an interrupted render of the same
    settings; ``on_progress(done_frames, total_frames)`` follows the frames, ``on_status(text)`` the
    slow steps; ``analysis``: the track's :class:`~mvgen.analysis.Analysis` when the caller has it
    (else it is computed, cached).
    """
    from pydantic import ValidationError

    unknown = sorted(set(options) - set(RenderSettings.model_fields))
    if unknown:
        raise MvgenError(f"unknown render option {unknown[0]!r} (options: {', '.join(RenderSettings.model_fields)})", path)
    for name in ("styles", "classifier"):
        if isinstance(options.get(name), os.PathLike):
            options[name] = os.fspath(options[name])
    try:
        if settings is None:
            settings = RenderSettings(**options)
        elif options:
            settings = RenderSettings.model_validate({**settings.model_dump(), **options})
    except ValidationError as exc:
        raise validation_error(exc, path, what="render option") from None
    return render_video(path, out, settings, resume=resume, on_progress=on_progress, analysis=analysis, on_status=on_status)


def render_video(track: str | os.PathLike, out: str | os.PathLike | None = None, settings: RenderSettings | None = None, **options: Any) -> Path:
    """Render the music video of ``track`` and return the path of the finished file: :func:`render_track`'s
    video (``options``: its keyword options ``resume``, ``on_progress``, ``analysis``, ``on_status``)."""
    return render_track(track, out, settings, **options).video


@dataclass(frozen=True)
class Rendered:
    """A finished render: the video, and the analysis, window and settings it was drawn from."""

    video: Path
    analysis: Analysis
    window_s: tuple[float, float] = field(metadata={"doc": "(start, end) of the track the video shows, seconds"})
    settings: RenderSettings

    def deliver(self, options: DeliverableOptions) -> Deliverables:
        """Measure the video's loudness and write what ``options`` asks for beside it
        (:func:`mvgen.delivery.deliverables.make_deliverables`, with the format's length warning)."""
        from mvgen.delivery.deliverables import make_deliverables

        return make_deliverables(self.video, self.analysis, options, window_s=self.window_s, preset=self.settings.preset())


def render_track(
    track: str | os.PathLike,
    out: str | os.PathLike | None = None,
    settings: RenderSettings | None = None,
    *,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    analysis: Analysis | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Rendered:
    """Render the music video of ``track`` into ``out`` (default: beside the track, :func:`~mvgen.workspace.default_output`).

    Every input the settings name (branding files and layout, styles) is checked first, then the
    output is locked, then the track analyzed (unless ``analysis`` is given) and drawn.
    ``on_progress(done_frames, total_frames)`` is called as batches finish (resumed chunks count
    as done at once); ``on_status(text)`` names slow steps before they start (analyzing the track,
    loading a model, denoising keyframes, compiling the renderer). Raises :class:`MvgenError` for bad
    input, a full disk (finished chunks kept for ``resume=True``) and :class:`OutputBusyError` when
    another process is rendering ``out``; a ``KeyboardInterrupt`` (or :class:`Terminated`) leaves the
    work folder for ``resume=True``.
    """
    settings = settings or RenderSettings()
    out = Path(out) if out is not None else default_output(track, settings)
    if out.suffix.lower() != ".mp4":
        raise MvgenError("the output must be an .mp4 file", out)
    inputs = _prepare(track, settings, analyzed=analysis is not None)
    with output_lock(out):
        return _render_locked(track, out, settings, inputs, resume, on_progress, analysis, on_status)


@dataclass(frozen=True)
class _Inputs:
    """What a render reads besides the track, checked before anything slow runs: the branding overlay
    (rasterized once; None: nothing drawn over the video), and the styles of the classes ``labels``."""

    overlay: Overlay | None
    labels: tuple[str, ...]
    styles: dict


def _prepare(track, settings: RenderSettings, *, analyzed: bool) -> _Inputs:
    """The render's overlay and styles: a bad logo, font, cover, lyrics or style file is an error here,
    and so is a track that is not audio (unless its analysis is ``analyzed`` already), before the output
    is locked (which makes its folder) and the track analyzed."""
    from mvgen.classify.checkpoints import classifier_labels
    from mvgen.media.audio import probe_audio
    from mvgen.style.styles import load_styles

    width, height = settings.frame_size()
    overlay = build_overlay(settings.branding, width, height, settings.aspect)
    labels = tuple(classifier_labels(settings.classifier))
    styles = load_styles(settings.styles, labels=labels)
    if not analyzed:
        probe_audio(track)  # headers only
    return _Inputs(overlay, labels, styles)


def _draw(renderer, overlay, specs) -> np.ndarray:
    """The encoder's yuv420p frames of ``specs``, with the branding ``overlay`` (text, logo, lyrics)
    composited on the renderer's device; also under the end card's fade, so the text fades out with the video."""
    frames = renderer.render(specs, pix_fmt=PIX_FMT)
    if overlay is not None:
        overlay.composite(frames, specs)
    return frames.cpu().numpy()


@dataclass(frozen=True)
class _Plan:
    """What a render draws: the window, its frame specs split into body and end card, and the chunking.
    ``loop_cut``: for a loop, the frame of the window its video opens on (0 otherwise)."""

    window: tuple[float, float]
    specs: list
    body: list
    n_card: int
    chunk_frames: int
    styles: dict
    loop_cut: int = 0

    @property
    def n_body_chunks(self) -> int:
        return -(-len(self.body) // self.chunk_frames)


def _plan(analysis: Analysis, settings: RenderSettings, inputs: _Inputs, status: Callable[[str], None]) -> _Plan:
    """Styles, window and frame specs of the video, and how its frames split into chunks and the end card."""
    from mvgen.brand.endcard import card_frames
    from mvgen.style.blend import StyleTable
    from mvgen.style.mapper import map_frames
    from mvgen.style.styles import load_styles

    styles = inputs.styles
    if analysis.genre_profile and tuple(analysis.genre_profile.labels) != inputs.labels:
        # an analysis given by the caller, made by another classifier: the styles of its classes
        styles = load_styles(settings.styles, labels=analysis.genre_profile.labels)
    clip = clip_window(analysis, settings)
    window = (clip.start_s, clip.end_s)
    table = StyleTable.from_styles(styles)
    if settings.branding.palette_from_cover:
        from mvgen.style.cover import cover_palette, tint_table

        table = tint_table(table, cover_palette(settings.branding.cover))
    specs = map_frames(analysis, table, fps=settings.fps, start_s=window[0], end_s=window[1], seed=settings.seed, loop=settings.loop)
    loop_cut = 0
    if settings.loop:
        status("choosing the loop's cut")
        loop_cut = calmest_cut(loop_draft(specs, settings), allowed=cut_candidates(specs))
        specs = rotate_loop(specs, loop_cut)
    # chunks end on GOP boundaries (every chunk starts with a keyframe: a chunk of a whole number of
    # GOPs keeps every GOP of the video the same length)
    gop = gop_frames(settings.fps)
    chunk_frames = -(-settings.chunk_frames // gop) * gop
    # the end card takes the last frames: the body is drawn as always, the card is one more chunk; it
    # starts on a GOP boundary (up to half a second longer than asked), so no short GOP sits before it
    n_card = card_frames(settings.branding, window[1] - window[0], settings.fps, enabled=settings.end_card and not settings.loop)  # a loop has no end
    if n_card:
        n_card = len(specs) - (len(specs) - n_card) // gop * gop
    return _Plan(window, specs, specs[: len(specs) - n_card], n_card, chunk_frames, styles, loop_cut)


def _make_renderer(settings: RenderSettings, plan: _Plan, status: Callable[[str], None]):
    """The settings' renderer at the video's size, ready to draw any chunk of ``plan``."""
    width, height = settings.frame_size()
    if settings.renderer == "diffusion":
        from mvgen.renderers.diffusion import DiffusionRenderer

        status(f"loading {settings.diffusion.model}")
        renderer = DiffusionRenderer(plan.styles, width, height, settings.diffusion)
        status("denoising keyframes")
        renderer.prepare(plan.specs)  # keyframes of the whole video, so any chunk can be drawn
        return renderer
    renderer = procedural_renderer(width, height, len(plan.specs), detail=settings.detail, compile=settings.compile)
    if renderer.compiles_on_first_render:
        status("compiling the renderer (about a minute the first time, cached afterwards)")
    return renderer


def _open_work(work: Path, key: str, settings: RenderSettings, window: tuple[float, float], resume: bool) -> WorkManifest:
    """The work folder's manifest: the unfinished one to resume (same key), or a new, empty folder."""
    manifest_path = work / "manifest.json"
    manifest = WorkManifest.load(manifest_path) if resume and manifest_path.is_file() else None
    if resume and manifest_path.is_file() and (manifest is None or manifest.key != key):
        raise StaleWorkError("the unfinished render here was made with other settings; run without --resume to start over", work)
    if manifest is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        manifest = WorkManifest(key=key, settings=settings, window=window)
        manifest.save(manifest_path)
    return manifest


def _render_locked(track, out: Path, settings: RenderSettings, inputs: _Inputs, resume: bool, on_progress, analysis: Analysis | None, on_status) -> Rendered:
    from mvgen.brand.endcard import EndCard

    status = on_status or (lambda text: None)
    overlay = inputs.overlay  # 1. branding and styles: checked and the overlay rasterized once, by _prepare
    width, height = settings.frame_size()
    # 2. analysis (cached), window and frame specs
    if analysis is None:
        status(f"analyzing {track}")
        analysis = analyze(track, classifier=settings.classifier)
    plan = _plan(analysis, settings, inputs, status)
    specs, window = plan.specs, plan.window
    card = EndCard(settings.branding, width, height, settings.fps, plan.n_card, aspect=settings.aspect) if plan.n_card else None
    # 3. the renderer, and the encoding of every chunk
    renderer = _make_renderer(settings, plan, status)
    n_chunks = plan.n_body_chunks + (card is not None)
    video_encoding, audio_encoding, max_bytes = encodings(settings.preset(), settings.fps, len(specs) / settings.fps, n_chunks)
    # 4. the work folder: chunks drawn at another detail must not be mixed in, so the key holds the resolved value
    work = out.with_name(f".{out.name}.work")
    key = work_key(analysis, settings.model_copy(update={"detail": renderer.detail, "compile": None}), window, video_encoding.args())
    manifest = _open_work(work, key, settings, window, resume)
    manifest_path = work / "manifest.json"
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, len(specs))

    # chunks whose frames are all written while their encoder flushes its look-ahead (x264 ends ~0.5 s
    # after its last frame at 720p): the next chunk is drawn meanwhile, so drawing never waits for it
    flushing: list[tuple[int, ChunkWriter]] = []

    def finish(c_done: int, writer_done: ChunkWriter) -> None:
        """Wait for chunk ``c_done``'s encoder and record the chunk as done."""
        writer_done.close()
        manifest.done.append(c_done)
        manifest.save(manifest_path)

    def settle(keep: int = 0) -> None:
        """Finish the flushing chunks but the last ``keep``."""
        while len(flushing) > keep:
            finish(*flushing.pop(0))

    try:
        # 5. the body, chunk by chunk (finished chunks of an interrupted render are kept)
        chunks = [work / f"chunk{c:05d}.mp4" for c in range(plan.n_body_chunks)]
        for c, chunk in enumerate(chunks):
            part = plan.body[c * plan.chunk_frames : (c + 1) * plan.chunk_frames]
            if c in manifest.done and chunk.is_file():
                progress(len(part))
                continue
            flushing.append((c, ChunkWriter(chunk, width, height, settings.fps, pix_fmt=PIX_FMT, encoding=video_encoding)))
            writer = flushing[-1][1]
            for b in range(0, len(part), settings.batch_frames):
                frames = _draw(renderer, overlay, part[b : b + settings.batch_frames])
                status("rendering")
                writer.write(frames)
                progress(len(frames))
            writer.end_input()
            settle(keep=1)
        settle()
        # 6. the end card, one more chunk
        if card is not None:
            chunk = work / f"chunk{plan.n_body_chunks:05d}.mp4"
            chunks.append(chunk)
            if plan.n_body_chunks in manifest.done and chunk.is_file():
                progress(plan.n_card)
            else:
                # the video under the card's fade: drawn like the body, then composed with the card
                # (in batches of the body's size: a compiled renderer would recompile for a larger one)
                fade = specs[len(plan.body) : len(plan.body) + card.fade_frames]
                underlay = np.concatenate([_draw(renderer, overlay, fade[b : b + settings.batch_frames]) for b in range(0, len(fade), settings.batch_frames)])
                status("end card")
                card.write(chunk, underlay, on_frames=progress, encoding=video_encoding)
                manifest.done.append(plan.n_body_chunks)
                manifest.save(manifest_path)
        # 7. mux: a loop has no audio (its sound would jump at every repeat); a cut inside the track is faded
        inside = (CUT_FADE_S if window[0] > 0 else 0.0, CUT_FADE_S if window[1] < analysis.duration_s - CUT_FADE_S else 0.0)
        # the file says where it lies in the track (the preview page's playhead): the frames' span, which
        # ends within half a frame of the window's out point; a loop's frames span its window exactly
        # (their clock is stretched to a whole number of frames), and it opens on frame loop_cut of them
        if settings.loop:
            shown = VideoWindow(window[0], window[1], loop=True, loop_cut_s=plan.loop_cut / len(specs) * (window[1] - window[0]))
        else:
            shown = VideoWindow(window[0], window[0] + len(specs) / settings.fps)
        mux(chunks, None if settings.loop else track, window[0], len(specs), settings.fps, out, *inside, audio=audio_encoding, max_bytes=max_bytes,
            window=shown)
        write_sidecars(settings.branding, out, (window[0], window[0] + len(specs) / settings.fps))  # lyrics as .srt/.vtt captions
    except BaseException as exc:
        # a chunk whose frames are all written is finished and kept (its encoder only has its look-ahead
        # to flush, well under a second); the one being drawn is removed, as are chunks its encoder fails
        for c_flushing, writer in flushing:
            if not writer.input_ended:
                writer.abort()
                continue
            try:
                finish(c_flushing, writer)
            except BaseException:  # close() has removed it
                pass
        if not isinstance(exc, OSError) or exc.errno not in DISK_FULL:
            raise
        raise MvgenError(f"the disk is full ({exc.strerror or exc}); free some space and run the same command with --resume to continue", out) from None
    shutil.rmtree(work, ignore_errors=True)
    return Rendered(out, analysis, window, settings)
