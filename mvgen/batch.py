"""`mvgen batch`: many tracks x formats x clips from one manifest, locally in parallel or on a Ray cluster.

Entry points: :func:`load_manifest` (validates everything up front and reports every problem at
once), :func:`plan_jobs` (one :class:`Job` per output file) and :func:`run_batch`. Each track is
analyzed once for all its outputs; one failing job does not stop the others; running the same
manifest again skips outputs that exist (they appear only when complete) and retries the rest,
resuming their unfinished chunks. Every deliverable of a video is attempted; a job with one that
failed is failed (its video and the other deliverables are kept and listed), and a rerun makes its
deliverables again without rendering the video again. A report (``report.json`` in the output folder, and a table)
lists what was produced, skipped and failed, with the reason and the time taken.

Manifest (YAML; paths relative to the manifest's folder)::

    output_dir: renders
    name: "{track}_{format}_{clip}.mp4"      # also {aspect}, {size}, {fps}
    formats:
      youtube: {aspect: "16:9", size: 720, fps: 30}
      reels: {aspect: "9:16", size: 1080}
      short: {preset: shorts}                # a platform preset (`mvgen formats list`); size may be changed
    clips:
      full: {}
      teaser: {length_s: 15}                 # the strongest 15 s (the first drop; whole bars, see mvgen.clips)
      hook: {length_s: 10, start_s: 42}      # from a given time
    tracks:
      - path: "music/*.wav"                  # a path or a glob
      - path: vip.flac
        formats: [reels, canvas]             # a subset (default: all); a preset's name needs no entry above
        clips: [teaser]
        renderer: diffusion                  # per-entry overrides
        model: stabilityai/sd-turbo
        styles: my-styles/
        seed: 3
        loudness: -14                        # also a copy at -14 LUFS (track_..._full.-14LUFS.mp4)
        thumbnail: true                      # and track_..._full.thumbnail.jpg
        preview_loop: webp                   # and a muted loop, track_..._full.loop.webp (or gif)
        branding:                            # text, logo, lyrics (see mvgen.brand.branding.Branding)
          artist: DJ Example
          title: Midnight
          logo: art/logo.png
          lyrics: vip.lrc

``loudness``, ``thumbnail`` and ``preview_loop`` may also be set at the top for every track. Every
output's loudness (integrated LUFS, true peak) is measured and goes in the report, with a warning
when the true peak is above -1 dBTP; a normalized copy's loudness, gain and peak limiting go there too.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import signal
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mvgen.delivery.deliverables import DeliverableOptions, LoudnessTarget
from mvgen.brand.branding import Branding, plan_overlay
from mvgen.errors import MvgenError, field_name, validation_problem
from mvgen.fileio import write_atomic
from mvgen.safe_yaml import load_yaml
from mvgen.delivery.formats import PRESETS
from mvgen.settings import RenderSettings

REPORT_NAME = "report.json"
PLACEHOLDERS = ("track", "format", "clip", "aspect", "size", "fps")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Format(_Strict):
    """One output format: a platform ``preset`` (its picture, length and encoding) or an aspect, size and fps
    (None: the defaults of :class:`~mvgen.pipeline.RenderSettings`, or the preset's)."""

    preset: str | None = Field(None, description="platform preset (mvgen.delivery.formats.PRESETS)")
    aspect: Literal["16:9", "9:16", "1:1", "4:5"] | None = None
    size: int | None = Field(None, ge=64, le=4320, description="short side in pixels")
    fps: float | None = Field(None, gt=0, le=120)

    @model_validator(mode="after")
    def _fits_the_preset(self) -> "Format":
        # the preset's own rules (a known name, its aspect and fps) are RenderSettings'
        try:
            RenderSettings(**self.picture())
        except ValidationError as exc:
            raise ValueError(validation_problem(exc.errors()[0]).replace("format '", "preset '")) from None
        return self

    def picture(self) -> dict:
        """The RenderSettings fields this format sets."""
        given = {"aspect": self.aspect, "size": self.size, "fps": self.fps, "format": self.preset}
        return {k: v for k, v in given.items() if v is not None}


class ClipSpec(_Strict):
    """One entry of a manifest's ``clips:`` (a request: ``{length_s: 15}``, ``{start_s: 40, length_s: 5}`` or ``{}``
    for the full track); each track resolves it to a :class:`mvgen.analysis.windows.ClipWindow` when it renders."""

    length_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="None: the full track")
    start_s: float | None = Field(None, ge=0, description="None: the strongest window of at most length_s (mvgen.clips.best_clip)")


class TrackEntry(_Strict):
    path: str = Field(min_length=1)
    formats: list[str] | None = None
    clips: list[str] | None = None
    renderer: Literal["procedural", "diffusion"] | None = None
    model: str | None = None
    styles: str | None = None
    seed: int | None = None
    loudness: LoudnessTarget | None = Field(None, description="LUFS of a normalized copy (DeliverableOptions); None: the manifest's")
    thumbnail: bool | None = None
    preview_loop: Literal["gif", "webp"] | None = None
    branding: Branding | None = Field(None, description="text, logo, cover, font and lyrics of this track's videos (file paths relative to the manifest)")


class Manifest(_Strict):
    output_dir: str = "renders"
    name: str = "{track}_{format}_{clip}.mp4"
    renderer: Literal["procedural", "diffusion"] = "procedural"
    model: str | None = None
    classifier: str | None = Field(None, description="genre classifier (folder or Hub id) for every track; None: the bundled one")
    styles: str | None = None
    seed: int = 0
    formats: dict[str, Format] = Field(default_factory=lambda: {"16x9": Format()})
    clips: dict[str, ClipSpec] = Field(default_factory=lambda: {"full": ClipSpec()})
    tracks: list[TrackEntry] = Field(min_length=1)
    loudness: LoudnessTarget | None = Field(None, description="also write a copy at this integrated loudness (LUFS), e.g. -14")
    thumbnail: bool = False
    preview_loop: Literal["gif", "webp"] | None = None


class CheckResult(BaseModel):
    """One platform check of a deliverable (:class:`mvgen.delivery.formats.Check`)."""

    name: str
    passed: bool
    why: str


class DeliverableResult(BaseModel):
    """One file of a job's deliverables (the video, its normalized copy, thumbnail, loop, captions) and its checks."""

    path: str
    kind: str
    passed: bool
    checks: list[CheckResult]


class JobResult(BaseModel):
    """What became of one :class:`Job` (pickles, so it comes back from worker processes and Ray tasks as it is)."""

    output: str
    track: str
    format: str
    clip: str
    status: Literal["done", "skipped", "failed"]
    seconds: float = 0.0
    error: str | None = None
    integrated_lufs: float | None = Field(None, description="the output's integrated loudness (LUFS); None: not measured, or no audio")
    true_peak_dbtp: float | None = Field(None, description="the output's true peak (dBTP)")
    normalized_lufs: float | None = Field(None, description="measured integrated loudness of the normalized copy, if one was written")
    normalized_gain_db: float | None = Field(None, description="the constant gain applied to the normalized copy (dB)")
    normalized_limited_db: float | None = Field(None, description="how far the normalized copy's peaks were limited at most (dB; 0: not limited)")
    files: list[str] = Field(default_factory=list, description="files written beside the output: normalized copy, thumbnail, loop")
    warnings: list[str] = Field(default_factory=list)
    deliverables: list[DeliverableResult] = Field(default_factory=list, description="every file of the output, each with its platform checks (passed, or why not)")

    @property
    def checks_failed(self) -> list[str]:
        """``"<file>: <check>: <why>"`` for every failed check of this job's deliverables."""
        return [f"{Path(d.path).name}: {c.name}: {c.why}" for d in self.deliverables for c in d.checks if not c.passed]


class Job(BaseModel):
    """One output file: a track rendered in one format and clip."""

    track: str
    output: str
    settings: RenderSettings
    format: str
    clip: str
    deliverables: DeliverableOptions = Field(default_factory=DeliverableOptions)

    def result(self, status: Literal["done", "skipped", "failed"], seconds: float = 0.0, error: BaseException | None = None, made=None) -> JobResult:
        """This job's :class:`JobResult`; ``made``: its :class:`~mvgen.delivery.deliverables.Deliverables`, if any.
        A video made with a deliverable that failed is a failed job (its error names each one), its
        files and checks listed as for a finished one."""
        figures = {}
        failed = ""
        if made is not None:
            figures = dict(files=[str(p) for p in made.files], warnings=list(made.warnings))
            if made.normalized is not None:
                n = made.normalized
                figures.update(normalized_lufs=n.after.integrated_lufs, normalized_gain_db=round(n.gain_db, 2), normalized_limited_db=round(n.limited_db, 2))
            if made.loudness is not None:
                figures.update(integrated_lufs=made.loudness.integrated_lufs, true_peak_dbtp=made.loudness.true_peak_dbtp)
            figures["deliverables"] = _checked(self, made.failures if status == "done" else None)
            if made.failures and status == "done":
                status = "failed"
                failed = "deliverables failed: " + "; ".join(f.describe() for f in made.failures)
        return JobResult(output=self.output, track=self.track, format=self.format, clip=self.clip, status=status, seconds=seconds,
                         error=_error_text(error) if error is not None else failed or None, **figures)


def _checked(job: Job, failures=None) -> list[DeliverableResult]:
    """The job's files on disk, each checked for where it goes, with the deliverables that failed
    (``failures``; None: those recorded beside the output) (:func:`mvgen.delivery.deliverables.check_deliverables`)."""
    from mvgen.delivery.deliverables import check_deliverables

    return [DeliverableResult(path=str(d.path), kind=d.kind, passed=d.passed, checks=[CheckResult(name=c.name, passed=c.passed, why=c.why) for c in d.checks])
            for d in check_deliverables(job.output, job.settings.preset(), failures)]


def load_manifest(path: str | os.PathLike) -> tuple[Manifest, list[Job]]:
    """Read and validate a manifest; returns it with its jobs. Raises :class:`MvgenError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise MvgenError("no such manifest file" if not path.exists() else "not a file", path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise MvgenError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
    if not isinstance(data, dict):
        raise MvgenError("a manifest is a YAML mapping with at least 'tracks'", path)
    problems: list[str] = []
    skip: set = set()
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        # report these, then check the rest without the broken items, so every problem shows at once
        problems = [f"{field_name(e['loc'], brackets=True)}: {validation_problem(e)}" for e in exc.errors()]
        data, skip = _without_errors(data, [e["loc"] for e in exc.errors()])
        try:
            manifest = Manifest.model_validate(data)
        except ValidationError:
            manifest = None
    jobs: list[Job] = []
    if manifest is not None:
        jobs, more = plan_jobs(manifest, path.parent, skip)
        problems += more
    if problems:
        raise MvgenError("\n".join(f"{path}: {p}" for p in problems))
    return manifest, jobs


def _without_errors(data: dict, locs: list[tuple]) -> tuple[dict, set]:
    """``data`` without the items that failed validation; returns it and the names/indices left out
    (a track index, or ``("formats", name)``), so that references to them are not reported again."""
    data = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in data.items()}
    skip: set = set()
    for loc in locs:
        top = loc[0]
        if top in ("formats", "clips") and len(loc) > 1 and isinstance(data.get(top), dict):
            data[top].pop(loc[1], None)
            skip.add((top, loc[1]))
        elif top == "tracks" and len(loc) > 1 and isinstance(loc[1], int):
            skip.add(loc[1])
        else:
            data.pop(top, None)
    if isinstance(data.get("tracks"), list):
        data["tracks"] = [t if i not in skip else {"path": "?"} for i, t in enumerate(data["tracks"])]
    return data, skip


def plan_jobs(manifest: Manifest, base: Path, skip: set = frozenset()) -> tuple[list[Job], list[str]]:
    """Expand tracks (globs) x formats x clips into jobs; returns ``(jobs, problems)``.

    ``skip``: track indices and ``(kind, name)`` items already reported invalid. The steps: the output
    name (:func:`_name_problems`) and the classifier (:func:`_manifest_classifier`) checked; each track
    entry checked (:func:`_check_entry`) and, with no problem, expanded into its jobs (:func:`_entry_jobs`);
    then no two jobs may write one output (:func:`_duplicate_outputs`)."""
    named, problems = _name_problems(manifest.name)
    classifier, more = _manifest_classifier(manifest, base)
    problems += more
    out_dir = (base / manifest.output_dir).resolve()
    jobs: list[Job] = []
    for i, entry in enumerate(manifest.tracks):
        if i in skip:
            continue
        where = f"tracks[{i}]"
        plan, more = _check_entry(entry, manifest, base, classifier, where, skip)
        problems += more
        if plan is not None and named:
            more_jobs, more = _entry_jobs(plan, manifest, out_dir, where)
            jobs += more_jobs
            problems += more
    return jobs, problems + _duplicate_outputs(jobs)


def _name_problems(name: str) -> tuple[bool, list[str]]:
    """Whether the output ``name`` pattern can be filled in (its placeholders are all known), and its problems."""
    fields = {f for _, f, _, _ in string.Formatter().parse(name) if f is not None}
    unknown = sorted(fields - set(PLACEHOLDERS))
    problems = []
    if unknown:
        problems.append(f"name: unknown placeholder {{{unknown[0]}}} (allowed: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    if not name.endswith(".mp4"):
        problems.append("name: must end with .mp4")
    return not unknown, problems


def _manifest_classifier(manifest: Manifest, base: Path) -> tuple[str | None, list[str]]:
    """The manifest's classifier: a folder beside the manifest (made absolute) or a Hub id; and its problems."""
    classifier = manifest.classifier
    if classifier is not None and (base / classifier).exists():
        return str(base / classifier), []
    if classifier is not None and classifier.count("/") != 1:
        return classifier, [f"classifier: no such folder (and not a Hub id like 'owner/name'): {classifier}"]
    return classifier, []


def _format(manifest: Manifest, name: str) -> Format:
    """The manifest's format ``name``, or the platform preset of that name (a preset needs no entry)."""
    return manifest.formats.get(name) or Format(preset=name)


@dataclasses.dataclass(frozen=True)
class _EntryPlan:
    """A checked track entry, with its values resolved (the entry's, else the manifest's)."""

    tracks: list[str] = dataclasses.field(metadata={"doc": "the files its path (or glob) matches"})
    formats: list[str]
    clips: list[str]
    options: dict = dataclasses.field(metadata={"doc": "RenderSettings fields every job of the entry shares"})
    deliverables: DeliverableOptions


def _check_entry(entry: TrackEntry, manifest: Manifest, base: Path, classifier: str | None, where: str, skip: set) -> tuple[_EntryPlan | None, list[str]]:
    """Check one track entry: the formats and clips it names exist, its styles are there, a model goes
    with the diffusion renderer, its path matches files, its branding fits every format it is drawn in.
    Returns its plan, or None when it is not to be expanded (a problem here, or a format or clip it names
    that was reported invalid already), and its problems (``where``: the entry, as the messages name it)."""
    formats, clips = entry.formats or list(manifest.formats), entry.clips or list(manifest.clips)
    problems = _reference_problems(entry, manifest, where, skip)
    styles = entry.styles if entry.styles is not None else manifest.styles
    if styles is not None and not (base / styles).exists():
        problems.append(f"{where}.styles: no such file or folder: {styles}")
    renderer = entry.renderer or manifest.renderer
    model = entry.model or manifest.model
    if model is not None and renderer != "diffusion":
        problems.append(f"{where}.model: a model is only used with renderer: diffusion")
    tracks, more = _track_files(entry.path, base, where)
    problems += more
    branding = _branding(entry.branding, base) if entry.branding is not None else None
    if branding is not None:
        problems += _branding_problems(branding, formats, manifest, where)
    named_invalid = [("formats", f) for f in entry.formats or []] + [("clips", c) for c in entry.clips or []]
    if problems or any(item in skip for item in named_invalid):
        return None, problems
    options = dict(renderer=renderer, seed=entry.seed if entry.seed is not None else manifest.seed,
                   styles=str(base / styles) if styles is not None else None, classifier=classifier)
    if model is not None:
        options["diffusion"] = {"model": model}
    if branding is not None:
        options["branding"] = branding
    deliverables = DeliverableOptions(  # each value already checked by the manifest's own fields
        loudness=entry.loudness if entry.loudness is not None else manifest.loudness,
        thumbnail=entry.thumbnail if entry.thumbnail is not None else manifest.thumbnail,
        preview_loop=entry.preview_loop or manifest.preview_loop,
    )
    return _EntryPlan(tracks, formats, clips, options, deliverables), []


def _reference_problems(entry: TrackEntry, manifest: Manifest, where: str, skip: set) -> list[str]:
    """The formats and clips ``entry`` names that the manifest does not define (a format may be a preset's
    name); those already reported invalid (in ``skip``) are not reported again."""
    problems = []
    for kind, chosen, defined in (("format", entry.formats, manifest.formats), ("clip", entry.clips, manifest.clips)):
        for name in chosen or []:
            if name not in defined and (kind + "s", name) not in skip and not (kind == "format" and name in PRESETS):
                presets = f"; presets: {', '.join(PRESETS)}" if kind == "format" else ""
                problems.append(f"{where}.{kind}s: unknown {kind} '{name}' (defined: {', '.join(defined) or 'none'}{presets})")
    return problems


def _track_files(path: str, base: Path, where: str) -> tuple[list[str], list[str]]:
    """The files an entry's ``path`` (relative to ``base``; a glob, or one file) matches, sorted; and the problem if none does."""
    pattern = str(base / path)
    matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(path) else ([pattern] if Path(pattern).exists() else [])
    matches = [m for m in matches if Path(m).is_file()]
    if not matches:
        return [], [f"{where}.path: {'no file matches' if glob.has_magic(path) else 'no such file'}: {path}"]
    return matches, []


def _branding_problems(branding: Branding, formats: list[str], manifest: Manifest, where: str) -> list[str]:
    """The first problem of ``branding`` (files, layout, lyrics) in any of the ``formats`` it is drawn in:
    laid out at each format's picture, never drawn (:func:`mvgen.brand.branding.plan_overlay`)."""
    for name in formats:
        if name not in manifest.formats and name not in PRESETS:
            continue  # an unknown format: reported by _reference_problems
        fmt = _format(manifest, name)
        try:
            picture = RenderSettings(**fmt.picture(), branding=branding)
            plan_overlay(picture.branding, *picture.frame_size(), picture.aspect)
        except MvgenError as exc:
            return [f"{where}.branding: {exc}"]
        except ValidationError as exc:
            return [f"{where}.branding: {validation_problem(exc.errors()[0])}"]
    return []


def _clip_options(clip: Clip) -> dict:
    """The RenderSettings fields of a manifest clip: the best clip of ``length_s`` (``clip_s``), or the
    excerpt from ``start_s`` (of ``length_s`` if given); none for the full track."""
    if clip.length_s is not None and clip.start_s is None:
        return {"clip_s": clip.length_s}
    if clip.start_s is None:
        return {}
    return {"start_s": clip.start_s} | ({"end_s": clip.start_s + clip.length_s} if clip.length_s is not None else {})


def _entry_jobs(plan: _EntryPlan, manifest: Manifest, out_dir: Path, where: str) -> tuple[list[Job], list[str]]:
    """A checked entry's jobs: each of its tracks in each of its formats and clips, named by the manifest's
    ``name`` inside ``out_dir``; and the problems of the combinations that cannot be rendered (a clip
    longer than a preset allows, an output outside ``out_dir``)."""
    jobs: list[Job] = []
    problems: list[str] = []
    for track in plan.tracks:
        for fmt_name in plan.formats:
            fmt = _format(manifest, fmt_name)
            for clip_name in plan.clips:
                try:
                    checked = RenderSettings(**fmt.picture(), **plan.options, **_clip_options(manifest.clips[clip_name]))
                except ValidationError as exc:  # e.g. a clip longer than a preset allows
                    problems.append(f"{where}: format {fmt_name}, clip {clip_name}: {validation_problem(exc.errors()[0])}")
                    continue
                name = manifest.name.format(track=Path(track).stem, format=fmt_name, clip=clip_name, aspect=checked.aspect.replace(":", "x"), size=checked.size, fps=f"{checked.fps:g}")
                output = (out_dir / name).resolve()
                if out_dir not in output.parents:
                    problems.append(f"{where}: output {name!r} would be outside output_dir {manifest.output_dir}")
                    continue
                jobs.append(Job(track=str(Path(track).resolve()), output=str(output), settings=checked, format=fmt_name, clip=clip_name,
                                deliverables=plan.deliverables))
    return jobs, problems


def _duplicate_outputs(jobs: list[Job]) -> list[str]:
    """A problem for each job whose output another, earlier job writes already."""
    problems = []
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.output in seen:
            problems.append(f"name: two outputs would be {Path(job.output).name} ({Path(seen[job.output].track).name} and {Path(job.track).name}); add {{track}}, {{format}} or {{clip}}")
        seen[job.output] = job
    return problems


def _branding(branding: Branding, base: Path) -> Branding:
    """``branding`` with its file paths made absolute from the manifest's folder ``base``."""
    files = {k: str(base / v) for k in ("logo", "cover", "font", "lyrics") if (v := getattr(branding, k)) is not None}
    return branding.model_copy(update=files)


class Report(BaseModel):
    manifest: str
    path: str = Field(description="where this report is saved")
    executor: str
    results: list[JobResult]
    seconds: float

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in ("done", "skipped", "failed")}


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, MvgenError) else f"{type(exc).__name__}: {exc}"


def analyze_track(track: str, classifier: str | None = None) -> dict:
    """Analysis of one track (genre profile by ``classifier``; None: the bundled one) as a JSON-able dict
    (so it crosses process and machine boundaries)."""
    from mvgen.analysis.track import analyze

    return analyze(track, classifier=classifier).model_dump(mode="json")


def render_job(job: Job, analysis: dict, threads: int | None = None, progress=None) -> JobResult:
    """Render one job with a given analysis (a JSON-able dict, see :func:`analyze_track`). Never raises but
    for an interruption (Ctrl-C, or SIGTERM in a pool worker); another process rendering the same output
    fails this job with that message. ``progress``: a queue (anything with ``put``) that receives
    ``(output, done_frames, total_frames)``."""
    import torch

    from mvgen.analysis.track import Analysis
    from mvgen.clips import clip_window
    from mvgen.pipeline import Rendered, render_track
    from mvgen.workspace import StaleWorkError

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        settings = job.settings
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        parsed = Analysis.model_validate(analysis)
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if progress is not None and (done == total or now - last[0] >= 0.5):
                last[0] = now
                progress.put((job.output, done, total))

        if Path(job.output).is_file():  # an earlier run made the video, and some of its deliverables failed: only they are made again
            window = clip_window(parsed, settings)
            rendered = Rendered(Path(job.output), parsed, (window.start_s, window.end_s), settings)
        else:
            try:
                rendered = render_track(job.track, job.output, settings, resume=True, analysis=parsed, on_progress=report)
            except StaleWorkError:  # left by a run with other settings: start over
                rendered = render_track(job.track, job.output, settings, resume=False, analysis=parsed, on_progress=report)
        return job.result("done", time.perf_counter() - started, made=rendered.deliver(job.deliverables))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - one failing job must not stop the others
        return job.result("failed", time.perf_counter() - started, exc)


def default_workers(n_jobs: int) -> int:
    """Parallel jobs on this machine: one per GPU, else one per 4 cores (at least 2, at most the jobs)."""
    import torch

    if torch.cuda.is_available():
        return max(1, min(n_jobs, torch.cuda.device_count()))
    return max(1, min(n_jobs, max(2, (os.cpu_count() or 2) // 4)))


def run_batch(
    manifest_path: str | os.PathLike,
    executor: Literal["local", "ray"] = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[float, int, str], None] | None = None,
) -> Report:
    """Run every job of a manifest; writes ``report.json`` in the output folder and returns the report.

    ``on_progress(jobs_done, total_jobs, label)`` is called as frames are drawn anywhere: ``jobs_done``
    counts finished jobs (skips included) plus the finished share of the running ones.
    """
    manifest, jobs = load_manifest(manifest_path)
    started = time.perf_counter()
    results: list[JobResult] = []
    todo = []
    for job in jobs:
        if already_made(job):
            results.append(_skipped(job))
        else:
            todo.append(job)
    total = len(jobs)

    running: dict[str, float] = {}  # output -> share of its frames drawn

    def show(label: str) -> None:
        if on_progress is not None:
            on_progress(len(results) + sum(running.values()), total, label)

    def finished(result: JobResult) -> None:
        running.pop(result.output, None)
        results.append(result)
        show(Path(result.output).name)

    def partial(output: str, done: int, n: int) -> None:
        if any(r.output == output for r in results):
            return  # a late message from a finished job
        running[output] = done / max(n, 1)
        show(Path(output).name)

    show("")
    if todo:
        run = _run_ray if executor == "ray" else _run_local
        run(todo, workers or default_workers(len(todo)), ray_address, finished, partial)
    order = {job.output: i for i, job in enumerate(jobs)}
    results.sort(key=lambda r: order[r.output])
    out_dir = Path(manifest_path).parent / manifest.output_dir
    report = Report(manifest=str(Path(manifest_path).resolve()), path=str(out_dir / REPORT_NAME), executor=executor, results=results,
                    seconds=time.perf_counter() - started)
    write_atomic(report.path, report.model_dump_json(indent=1))
    write_track_previews(jobs, results, out_dir)
    return report


def preview_path(out_dir: Path, track: str) -> Path:
    """``<output_dir>/<track>.preview.html``: a track's timeline page with its deliverables."""
    return Path(out_dir) / f"{Path(track).stem}.preview.html"


def write_track_previews(jobs: list[Job], results: list[JobResult], out_dir: Path) -> list[Path]:
    """One preview page per track with a finished output (:func:`mvgen.report.preview.write_preview`): its genre
    timeline, a player of every video of the track (a picker; each drawn at its window in the track), and
    every deliverable of every format and clip with its checks.
    The analysis comes from the cache the jobs filled; a page that cannot be written is a warning, never
    a failed batch."""
    import warnings

    from mvgen.analysis.track import analyze
    from mvgen.report.preview import write_preview

    settings = {job.output: job.settings for job in jobs}
    pages = []
    # a job whose video was made is on its page, also when a deliverable of it failed (listed in red)
    for track, done in _by_track([r for r in results if Path(r.output).is_file()]).items():
        try:
            analysis = analyze(track, classifier=settings[done[0].output].classifier)
            deliverables = [d for r in done for d in r.deliverables]
            pages.append(write_preview(track, preview_path(out_dir, track), video=[r.output for r in done], analysis=analysis, deliverables=deliverables))
        except MvgenError as exc:
            warnings.warn(f"preview page of {track} not written: {exc}", stacklevel=2)
    return pages


def already_made(job: Job) -> bool:
    """Whether an earlier run finished ``job``: its output is there and none of its deliverables failed
    (:func:`mvgen.delivery.deliverables.failures_path`; with some, a rerun makes them again, not the video)."""
    from mvgen.delivery.deliverables import failures_path

    return Path(job.output).is_file() and not failures_path(job.output).exists()


def _skipped(job: Job) -> JobResult:
    """A finished output: skipped, its loudness measured again for the report (a second or so), its deliverables listed."""
    from mvgen.delivery.deliverables import existing_deliverables

    try:
        return job.result("skipped", made=existing_deliverables(job.output))
    except MvgenError as exc:  # an unreadable old output is still skipped; the report says why it has no figures
        return job.result("skipped").model_copy(update={"warnings": [f"loudness not measured: {exc}"]})


def _by_track(items: list) -> dict[str, list]:
    """Jobs (or their results) grouped by track, in order."""
    grouped: dict[str, list] = {}
    for item in items:
        grouped.setdefault(item.track, []).append(item)
    return grouped


def _schedule(jobs: list[Job], submit_analysis, submit_render, wait, get, finished, partial, progress) -> None:
    """Analyze each track once, then render its jobs with that analysis, as results come in.

    The executor supplies ``submit_analysis(track, classifier)`` and ``submit_render(job, analysis)`` (both
    return handles), ``wait(handles) -> finished handles`` (returning within a fraction of a second)
    and ``get(handle)`` (the result, or raises the task's error). A failed analysis fails its
    track's jobs and a crashed render its own job; the others go on.
    """
    grouped = _by_track(jobs)
    pending = {submit_analysis(track, group[0].settings.classifier): ("analysis", track) for track, group in grouped.items()}
    while pending:
        done = wait(list(pending))
        _drain(progress, partial)
        for handle in done:
            kind, payload = pending.pop(handle)
            try:
                value = get(handle)
            except Exception as exc:  # noqa: BLE001 - this track or job fails, the others go on
                for job in grouped[payload] if kind == "analysis" else [payload]:
                    finished(job.result("failed", error=exc))
                continue
            if kind == "analysis":
                for job in grouped[payload]:
                    pending[submit_render(job, value)] = ("render", job)
            else:
                finished(value)


def _drain(queue, partial: Callable[[str, int, int], None]) -> None:
    import queue as queue_module

    while True:
        try:
            partial(*queue.get_nowait())
        except (queue_module.Empty, Exception):  # noqa: BLE001 - Ray's queue raises its own Empty
            return


#: Seconds interrupted pool workers get to end their encoders and exit before they are killed.
STOP_GRACE_S = 30.0

_job_running = False  # in a pool worker: whether a job is running (an idle worker has nothing to clean up)


def _pool_worker_init() -> None:
    """Pool workers stop on SIGTERM (which the batch sends them when it is interrupted) or Ctrl-C."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _worker_interrupted)


def _worker_interrupted(signum, frame) -> None:
    from mvgen.interrupts import Terminated

    # once: Ctrl-C reaches the workers and then the batch sends SIGTERM; a second interruption
    # inside the first one's cleanup would leave an encoder running
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    if not _job_running:
        os._exit(128 + signum)  # idle: nothing to clean up (an exception here would print a traceback)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _in_worker(fn, *args):
    """Run a job in a pool worker; an interrupted job cleans up (encoders ended, chunks kept), then the worker ends."""
    global _job_running
    _job_running = True
    try:
        return fn(*args)
    except KeyboardInterrupt as exc:
        # the pool would send the interruption back and wait for more work; the batch is stopping
        os._exit(getattr(exc, "exit_code", 128 + signal.SIGINT))
    finally:
        _job_running = False


def _stop_workers(processes) -> None:
    """Interrupt the pool's workers (SIGTERM reaches only the batch's own process) and wait for them."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(STOP_GRACE_S)
        if process.is_alive():
            process.kill()


def _run_local(jobs: list[Job], workers: int, _address, finished: Callable[[JobResult], None], partial: Callable[[str, int, int], None]) -> None:
    """Processes on this machine (spawned: torch and forked threads do not mix)."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_pool_worker_init) as pool:
        progress = manager.Queue()
        try:
            _schedule(
                jobs,
                submit_analysis=lambda track, classifier: pool.submit(_in_worker, analyze_track, track, classifier),
                submit_render=lambda job, analysis: pool.submit(_in_worker, render_job, job, analysis, threads, progress),
                wait=lambda handles: wait(handles, timeout=0.3, return_when=FIRST_COMPLETED)[0],
                get=lambda future: future.result(),
                finished=finished, partial=partial, progress=progress,
            )
        except KeyboardInterrupt:
            # the pool's private list of workers: the only handle on them, and they must stop too
            processes = list((pool._processes or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers(processes)
            raise


def _run_ray(jobs: list[Job], workers: int, address: str | None, finished: Callable[[JobResult], None], partial: Callable[[str, int, int], None]) -> None:
    """The same jobs as Ray tasks: one GPU per render when the cluster has GPUs. Track files must be
    readable at the same paths on every node (a shared file system)."""
    try:
        import ray
    except ImportError:
        raise MvgenError("the Ray executor needs Ray: pip install 'mvgen[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        except Exception as exc:  # noqa: BLE001 - unreachable cluster, bad address
            raise MvgenError(f"cannot connect to the Ray cluster at {address or 'a new local instance'}: {exc}") from None
    try:
        from ray.util.queue import Queue

        progress = Queue()
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        analyze_remote = ray.remote(num_cpus=1)(analyze_track)
        render_remote = ray.remote(num_gpus=1, num_cpus=1)(render_job) if gpus else ray.remote(num_cpus=1)(render_job)

        def get(ref):
            try:
                return ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # the task's own error, not Ray's wrapper
                raise exc.cause if isinstance(exc.cause, Exception) else exc from None

        shared: dict[int, tuple] = {}  # one object-store copy of each analysis for all its track's jobs

        def submit_render(job: Job, analysis: dict):
            if id(analysis) not in shared:
                shared[id(analysis)] = (analysis, ray.put(analysis))  # holding it keeps its id unique
            return render_remote.remote(job, shared[id(analysis)][1], None, progress)

        _schedule(
            jobs,
            submit_analysis=analyze_remote.remote,
            submit_render=submit_render,
            wait=lambda refs: ray.wait(refs, num_returns=1, timeout=0.3)[0],
            get=get,
            finished=finished, partial=partial, progress=progress,
        )
    finally:
        if started_here:
            ray.shutdown()


def format_report(report: Report) -> list[tuple[str, str, str, str, str]]:
    """Rows for a table: output, status, seconds, platform checks (of every deliverable), error."""
    rows = []
    for r in report.results:
        n_checks = sum(len(d.checks) for d in r.deliverables)
        checks = "" if not n_checks else (f"all {n_checks} passed" if not r.checks_failed else "; ".join(r.checks_failed))
        rows.append((Path(r.output).name, r.status, f"{r.seconds:.1f}" if r.status != "skipped" else "", checks, r.error or ""))
    return rows

