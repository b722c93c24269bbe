"""``mvgen studio``: a local web page to shape each sub-genre's look while watching the track.

The server (FastAPI on uvicorn) binds 127.0.0.1 and answers only requests that carry its access token
(the ``token`` query parameter of the printed URL, the cookie the page sets from it, or
``Authorization: Token <token>``), whose ``Host`` names the server and whose ``Origin``, when sent, is
the page itself (no DNS rebinding, no cross-site requests). It reads only the tracks it was given (by
index: no request names a path) and reads and writes only the styles folder (one ``<class>.yaml`` per
class, or the file that already styles that class). Request bodies are limited to
:data:`MAX_BODY_BYTES` (a branding file's upload to :data:`MAX_UPLOAD_BYTES`).

HTTP API (the page uses it; so can scripts):

- ``GET /api/tracks``: the tracks, each with its timeline (sections, drops, beats, genre profile);
- ``GET /api/audio/{i}``: track ``i``'s audio file;
- ``GET /api/frame?t=SECONDS&width=PX&track=I``: PNG of the procedural frame at that time with the
  current styles (16:9, ``width`` from 64 to :data:`MAX_FRAME_WIDTH`);
- ``GET /api/clip?t=SECONDS&width=PX&track=I``: MP4 (no audio) of :data:`PLAY_BARS` bars from the downbeat at
  or before ``t`` with the current styles; headers ``X-Mvgen-Start-S`` / ``X-Mvgen-End-S`` say where in the
  track it plays (the page's "play 4 bars", in sync with the audio);
- ``GET /api/styles``: the classes; ``GET /api/styles/{class}``: the style as JSON, with the JSON schema;
- ``PUT /api/styles/{class}``: a whole or partial style (a partial one inherits the rest, as partial
  YAML files do): 200 with the style, or 422 with the problems ``mvgen styles validate`` would print;
- ``GET /api/formats``: the platform presets; ``POST /api/render`` (``{"track": 0, "formats": ["youtube"],
  "length_s": 15, "thumbnail": true}``): a job id; ``GET /api/jobs/{id}``: state, progress and, once done,
  the outputs with their platform checks. A render snapshots the styles as the page shows them and runs
  through the batch machinery (a manifest in ``<output_dir>/studio-<id>/``) in its own process, stopped by
  SIGTERM when the studio stops (unfinished videos resume as any batch does);
- ``PUT /api/branding/{kind}?name=FILE`` (``kind``: cover, logo, font or lyrics; the body is the file's
  bytes, at most :data:`MAX_UPLOAD_BYTES`; ``name`` gives only the suffix): checked as ``mvgen render``
  checks ``--cover``/``--logo``/``--font``/``--lyrics`` (422 with the problem, nothing kept), then kept as
  ``<output_dir>/studio-branding/<kind><suffix>``, a name the server makes, never one the request gives;
  ``GET /api/branding``: what is kept; ``GET /api/branding/{kind}``: the file; ``DELETE`` drops it.
  A render's ``branding`` uses a kept file where it says so (``"cover": true``);
- ``POST /api/styles/save`` (body ``{"versions": {class: version}}``, the versions the page's GETs gave, or
  nothing): writes the changed styles into the styles folder, atomically, keeping the comments and the
  order of an existing file (ruamel.yaml round trip); 409 when a file changed on disk since the studio
  or the page read it (another editor, or another tab that saved first).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.requests import cookie_parser

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mvgen.errors import MvgenError, field_name, validation_problem
from mvgen.fileio import atomic_path, write_atomic
from mvgen.interrupts import sigterm_interrupts

#: The largest request body the server reads (bytes): a whole style is a few kB.
MAX_BODY_BYTES = 256_000
#: The largest branding file the page may upload (bytes), per kind: a print-resolution cover (3000 px
#: square JPEG/PNG) is 2-25 MB, a font family file up to ~20 MB (CJK fonts), a logo or lyrics far less.
MAX_UPLOAD_BYTES = {"cover": 32_000_000, "logo": 8_000_000, "font": 32_000_000, "lyrics": 1_000_000}
#: The suffixes each kind of branding file may have (what ``mvgen render`` reads for that option).
UPLOAD_SUFFIXES = {"cover": (".png", ".jpg", ".jpeg", ".webp"), "logo": (".png", ".svg"), "font": (".ttf", ".otf"), "lyrics": (".lrc", ".srt")}
#: Folder (inside the output folder) where uploaded branding files are kept.
BRANDING_FOLDER = "studio-branding"
#: Widest frame the API draws (px); the page asks for its preview size.
MAX_FRAME_WIDTH = 1280
#: Cookie the page keeps the token in (HttpOnly, SameSite=Strict).
TOKEN_COOKIE = "mvgen_studio_token"
#: Frame rate of the clock the frames are taken on.
FRAME_FPS = 30.0
#: Bars of the page's "play" clip, and the bar length (s) where the track has no downbeats.
PLAY_BARS = 4
FALLBACK_BAR_S = 2.0
#: Widest "play" clip (px): a draft, drawn while the user waits.
MAX_CLIP_WIDTH = 640


class _RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class StudioOptions:
    """What ``mvgen studio`` serves: ``tracks`` (audio files), the ``styles_dir`` it edits (created if
    missing), the ``output_dir`` its renders go to, the genre ``classifier`` (None: bundled), where it
    listens, and its access ``token``."""

    tracks: tuple[Path, ...]
    styles_dir: Path
    output_dir: Path = Path("renders")
    classifier: str | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/?token={self.token}"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class Studio:
    """The studio's state: the tracks' analyses, the styles as edited, and what is on disk."""

    def __init__(self, options: StudioOptions, analyses: list):
        from mvgen.genres import GENRES
        from mvgen.style.styles import load_styles, style_files_by_key

        self.options = options
        self.analyses = analyses
        profile = analyses[0].genre_profile
        self.labels = tuple(profile.labels) if profile is not None else tuple(GENRES)
        options.styles_dir.mkdir(parents=True, exist_ok=True)
        self.files = style_files_by_key(options.styles_dir, labels=self.labels)
        has_files = any(options.styles_dir.glob("*.yaml"))
        self.styles = load_styles(options.styles_dir if has_files else None, labels=self.labels)
        self.saved = dict(self.styles)  # the styles as on disk
        self.digests = {key: _digest(self.path_of(key)) for key in self.styles}
        self.lock = threading.Lock()
        self.jobs: dict[str, RenderJob] = {}

    # -------------------------------------------------- branding files uploaded from the page

    def branding_files(self) -> dict[str, Path]:
        """The branding files kept from uploads (this session's or an earlier one's): kind -> path."""
        folder = self.options.output_dir / BRANDING_FOLDER
        kept = {}
        for kind, suffixes in UPLOAD_SUFFIXES.items():
            for suffix in suffixes:
                if (folder / f"{kind}{suffix}").is_file():
                    kept[kind] = folder / f"{kind}{suffix}"
        return kept

    def keep_branding(self, kind: str, name: str, data: bytes) -> Path:
        """Check ``data`` (an upload named ``name``) as ``mvgen render`` checks that kind of file, and keep it as
        ``<output_dir>/studio-branding/<kind><suffix>`` in place of any earlier one; :class:`MvgenError` (nothing
        kept) naming the upload when it is no such file."""
        from mvgen.brand.branding import Branding
        from mvgen.brand.lyrics import load_lyrics

        where = f"{kind} upload {Path(name).name or '(no name)'}"
        kind = check_branding_kind(kind)
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES[kind]:
            raise MvgenError(f"a {kind} must be a {'/'.join(UPLOAD_SUFFIXES[kind])} file (got {suffix or 'no suffix'!r})", where)
        if len(data) > MAX_UPLOAD_BYTES[kind]:
            raise MvgenError(f"{len(data)} bytes is over the {MAX_UPLOAD_BYTES[kind]} bytes a {kind} may have", where)
        if not data:
            raise MvgenError("the file is empty", where)
        target = self.options.output_dir / BRANDING_FOLDER / f"{kind}{suffix}"
        with self.lock:
            try:
                with atomic_path(target, suffix=".part" + suffix) as tmp:
                    tmp.write_bytes(data)
                    if kind == "lyrics":
                        load_lyrics(tmp)
                    else:
                        Branding(**{kind: str(tmp)}).check()
            except MvgenError as exc:  # the message names the upload, not the temporary file it was checked in
                raise MvgenError(exc.problem, where) from None
            for suffix_kept in UPLOAD_SUFFIXES[kind]:  # one file per kind: a new suffix replaces the old one
                if suffix_kept != suffix:
                    (target.parent / f"{kind}{suffix_kept}").unlink(missing_ok=True)
        return target

    def drop_branding(self, kind: str) -> bool:
        """Forget the kept file of ``kind``; whether there was one."""
        path = self.branding_files().get(check_branding_kind(kind))
        if path is not None:
            path.unlink()
        return path is not None

    def path_of(self, key: str) -> Path:
        """The file that styles ``key``: the one already doing so, else ``<styles_dir>/<key>.yaml``."""
        return self.files.get(key, self.options.styles_dir / f"{key}.yaml")

    def check_key(self, key: str) -> str:
        if key not in self.styles:
            raise MvgenError(f"no style {key!r} (allowed: {', '.join(self.styles)})", "/api/styles")
        return key

    def put_style(self, key: str, data: Any) -> tuple[Any, list[str]]:
        """Merge ``data`` (whole or partial) onto the current style of ``key``: ``(style, [])`` or ``(None, problems)``."""
        from mvgen.style.styles import style_problems

        with self.lock:
            style, problems = style_problems(data, self.styles[key], f"{key}.yaml", allowed=tuple(self.styles))
            if style is not None:
                self.styles[key] = style
        return style, problems

    def version(self, key: str) -> str:
        """What a page read of ``key``'s file: its digest when the studio last read or wrote it ("none": no file)."""
        return self.digests[key] or "none"

    def save(self, versions: Mapping[str, str] | None = None) -> tuple[list[Path], list[str]]:
        """Write every changed style (see the module docstring); ``(written, conflicts)``: nothing is written
        when any file changed on disk since it was read: since the studio read it, and since the page that
        asks read it (``versions``: class -> :meth:`version` as the page got it; another tab may have saved)."""
        from mvgen.style.styles import style_changes, update_style_file

        versions = versions or {}
        with self.lock:
            changed = [key for key in self.styles if self.styles[key] != self.saved[key]]
            conflicts = [f"{self.path_of(k)}: changed on disk since this page read it; reload to see it" for k in changed
                         if _digest(self.path_of(k)) != self.digests[k] or versions.get(k, self.version(k)) != self.version(k)]
            if conflicts:
                return [], conflicts
            written = []
            for key in changed:
                path = self.path_of(key)
                update_style_file(path, style_changes(self.saved[key], self.styles[key]), key)
                self.saved[key] = self.styles[key]
                self.digests[key] = _digest(path)
                self.files[key] = path
                written.append(path)
            return written, []

    def table(self):
        """The styles as the page shows them now, as a :class:`~mvgen.style.blend.StyleTable`."""
        from mvgen.style.blend import StyleTable

        with self.lock:
            return StyleTable.from_styles(self.styles)

    def bars_clip_mp4(self, track: int, time_s: float, width: int, bars: int = PLAY_BARS) -> tuple[bytes, float, float]:
        """An MP4 (H.264, no audio) of ``bars`` bars of track ``track`` from the downbeat at or before ``time_s``
        (:data:`FALLBACK_BAR_S` bars without a grid), ``width`` px wide (16:9), with the current styles, and
        its ``(start_s, end_s)``: the page plays it muted over the track's audio from ``start_s``."""
        import tempfile

        import numpy as np

        from mvgen.media.assemble import ChunkWriter
        from mvgen.renderers.factory import procedural_renderer
        from mvgen.style.mapper import map_frames

        analysis = self.analyses[track]
        downbeats = np.asarray(analysis.downbeats_s)
        bar_s = float(np.median(np.diff(downbeats))) if len(downbeats) > 1 else FALLBACK_BAR_S
        before = downbeats[downbeats <= time_s + 1e-6]
        start_s = float(before[-1]) if len(before) else max(0.0, time_s)
        end_s = min(start_s + bars * bar_s, analysis.duration_s)
        start_s = max(0.0, min(start_s, end_s - 1.0 / FRAME_FPS))
        height = _height(width)
        specs = map_frames(analysis, self.table(), FRAME_FPS, start_s=start_s, end_s=end_s)
        renderer = procedural_renderer(width, height, len(specs), compile=False)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clip.mp4"
            with ChunkWriter(path, width, height, FRAME_FPS) as writer:
                for i in range(0, len(specs), 16):
                    writer.write(renderer.render(specs[i : i + 16]).cpu().numpy())
            return path.read_bytes(), start_s, end_s

    def frame_png(self, track: int, time_s: float, width: int) -> bytes:
        """PNG of the procedural frame of track ``track`` at ``time_s`` with the current styles, ``width`` px wide (16:9)."""
        from PIL import Image

        from mvgen.renderers.factory import procedural_renderer
        from mvgen.style.mapper import map_frames

        analysis = self.analyses[track]
        time_s = min(max(0.0, time_s), max(analysis.duration_s - 1.0 / FRAME_FPS, 0.0))
        specs = map_frames(analysis, self.table(), FRAME_FPS, start_s=time_s, end_s=time_s + 1.0 / FRAME_FPS)
        frame = procedural_renderer(width, _height(width), 1, compile=False, beside_encoder=False).render(specs[:1])[0].cpu().numpy()
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


def check_branding_kind(kind: str) -> str:
    """``kind`` if it is a kind of branding file the page may upload, else an :class:`MvgenError` listing them."""
    if kind not in UPLOAD_SUFFIXES:
        raise MvgenError(f"no branding file kind {kind!r} (allowed: {', '.join(UPLOAD_SUFFIXES)})", "/api/branding")
    return kind


def _height(width: int) -> int:
    """The even height of a 16:9 picture ``width`` px wide (what H.264 and the page's frames take)."""
    return max(2, 2 * round(width * 9 / 16 / 2))


# --------------------------------------------------------------------------- renders


class PageBranding(_RequestModel):
    """The branding a render from the page carries: its text, and which of the files uploaded to
    ``PUT /api/branding/{kind}`` it uses (``True``: the kept file; no request names a path)."""

    artist: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=200)
    release_date: str | None = Field(None, max_length=60)
    end_card_s: float | None = Field(None, ge=0, le=30)
    call_to_action: str | None = Field(None, max_length=80)
    palette_from_cover: bool = False
    cover: bool = False
    logo: bool = False
    font: bool = False
    lyrics: bool = False

    @model_validator(mode="after")
    def _cover_for_palette(self) -> "PageBranding":
        if self.palette_from_cover and not self.cover:
            raise ValueError("palette_from_cover needs the uploaded cover (cover: true): the artwork whose colours the video takes")
        return self


class RenderRequest(_RequestModel):
    """``POST /api/render``: track ``track`` in each of ``formats`` (presets of ``mvgen formats list``, at ``size``
    when given), one clip (``length_s`` None: the whole track; ``start_s`` None: its strongest window),
    optional thumbnail and branding."""

    track: int = 0
    formats: list[str] = Field(min_length=1, max_length=8)
    length_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    start_s: float | None = Field(None, ge=0, allow_inf_nan=False)
    size: int | None = Field(None, ge=64, le=4320, description="short side in pixels (None: the preset's); a smaller one renders a quick draft")
    thumbnail: bool = False
    branding: PageBranding | None = None

    @field_validator("formats")
    @classmethod
    def _presets(cls, names: list[str]) -> list[str]:
        from mvgen.delivery.formats import PRESETS

        unknown = [n for n in names if n not in PRESETS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (formats: {', '.join(PRESETS)})")
        return names


def _render_child(manifest: str, progress) -> None:
    """A render job's process: the batch of ``manifest``, its progress put on ``progress``; SIGTERM stops it
    as Ctrl-C stops ``mvgen batch`` (finished videos stay, unfinished ones resume on the next run)."""
    from mvgen.batch import run_batch
    from mvgen.interrupts import sigterm_interrupts

    with sigterm_interrupts():
        try:
            run_batch(manifest, workers=1, on_progress=lambda done, total, label: progress.put((done, total, label)))
        except KeyboardInterrupt:
            progress.put(("stopped", 0, ""))


@dataclass
class RenderJob:
    """One render started from the page: a manifest of the batch machinery, run in its own process."""

    id: str
    folder: Path
    process: Any
    queue: Any
    done: float = 0.0
    total: int = 0
    label: str = ""
    stopped: bool = False

    def poll(self) -> dict:
        """The job as the page shows it: state, progress 0..1, and when done the outputs with their checks."""
        import queue as queues

        while True:
            try:
                done, total, label = self.queue.get_nowait()
            except (queues.Empty, OSError, EOFError):
                break
            if done == "stopped":
                self.stopped = True
            else:
                self.done, self.total, self.label = float(done), int(total), label
        alive = self.process.is_alive()
        report_path = self.folder / "renders" / "report.json"
        state = "running" if alive else ("stopped" if self.stopped else ("done" if report_path.is_file() else "failed"))
        out: dict[str, Any] = {"id": self.id, "state": state, "progress": self.done / self.total if self.total else 0.0, "label": self.label}
        if state == "done":
            report = json.loads(report_path.read_text())
            out["results"] = [{k: r[k] for k in ("output", "format", "clip", "status", "error", "deliverables")} for r in report["results"]]
        return out


def _job_branding(kept: Mapping[str, Path], wanted: PageBranding, folder: Path) -> dict[str, Any]:
    """The manifest's branding for ``wanted``: its text, and a copy in ``folder`` of each kept file it uses (so a
    later upload never changes a render under way, nor the files a resumed render checks)."""
    import shutil

    branding = wanted.model_dump(exclude_none=True, exclude={"cover", "logo", "font", "lyrics", "palette_from_cover"})
    if wanted.palette_from_cover:
        branding["palette_from_cover"] = True
    for kind in UPLOAD_SUFFIXES:
        if getattr(wanted, kind):
            copy = folder / "branding" / kept[kind].name
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(kept[kind], copy)
            branding[kind] = str(copy.relative_to(folder))
    return branding


def start_render(studio: "Studio", request: RenderRequest) -> RenderJob:
    """Snapshot the current styles, write a batch manifest for ``request`` and start it (see :class:`RenderJob`)."""
    import multiprocessing

    from mvgen.style.styles import style_yaml

    kept = studio.branding_files()
    missing = [kind for kind in UPLOAD_SUFFIXES if request.branding and getattr(request.branding, kind) and kind not in kept]
    if missing:
        raise MvgenError(f"branding.{missing[0]}: no {missing[0]} was uploaded (PUT /api/branding/{missing[0]})", "/api/render")
    job_id = secrets.token_hex(4)
    folder = studio.options.output_dir / f"studio-{job_id}"
    (folder / "styles").mkdir(parents=True)
    with studio.lock:  # what the page shows now, saved or not
        for key, style in studio.styles.items():
            write_atomic(folder / "styles" / f"{key}.yaml", style_yaml(style))
    branding = _job_branding(kept, request.branding, folder) if request.branding else None
    clip = {k: v for k, v in (("length_s", request.length_s), ("start_s", request.start_s)) if v is not None}
    manifest = {"output_dir": "renders", "styles": "styles", "classifier": studio.options.classifier,
                "formats": {name: {"preset": name, **({"size": request.size} if request.size else {})} for name in request.formats}, "clips": {"clip" if clip else "full": clip},
                "thumbnail": request.thumbnail,
                "tracks": [{"path": str(studio.options.tracks[request.track].resolve()),
                            **({"branding": branding} if branding else {})}]}
    write_atomic(folder / "manifest.yaml", json.dumps({k: v for k, v in manifest.items() if v is not None}, indent=1))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_render_child, args=(str(folder / "manifest.yaml"), queue), daemon=False)
    process.start()
    return RenderJob(id=job_id, folder=folder, process=process, queue=queue)


def stop_renders(jobs: Mapping[str, RenderJob], timeout_s: float = 30.0) -> None:
    """SIGTERM every running render and wait for it (unfinished videos resume on the next run)."""
    for job in jobs.values():
        if job.process.is_alive():
            job.process.terminate()
    for job in jobs.values():
        job.process.join(timeout_s)


# --------------------------------------------------------------------------- the web app


def _allowed_hosts(options: StudioOptions) -> set[str]:
    names = {"127.0.0.1", "localhost", options.host}
    return {f"{name}:{options.port}" for name in names} | ({"[::1]:" + str(options.port)} if options.host == "::1" else set())


class _Guard:
    """ASGI middleware: Host, Origin, token and body size checked before any route runs (see the module docstring)."""

    def __init__(self, app, options: StudioOptions):
        self.app = app
        self.options = options
        self.hosts = _allowed_hosts(options)
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = None
        if headers.get("host", "") not in self.hosts:
            problem = (403, "this studio answers only to its own address (Host header refused)")
        elif "origin" in headers and headers["origin"] not in self.origins:
            problem = (403, "cross-site request refused (Origin header)")
        elif not self._token_ok(scope, headers):
            problem = (403, "missing or wrong access token: open the URL mvgen studio printed")
        if problem is None:
            # the body is read here, whatever its framing (Content-Length or chunked), and refused past the limit
            upload = scope.get("method") == "PUT" and scope.get("path", "").startswith("/api/branding/")
            limit = max(MAX_UPLOAD_BYTES.values()) if upload else MAX_BODY_BYTES
            chunks, size, more = [], 0, True
            while more and size <= limit:
                message = await receive()
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
            body = b"".join(chunks)
            if size > limit:
                problem = (413, f"request body over {limit} bytes")
        if problem is not None:
            return await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)

        replayed = False

        async def replay():  # the body once, then the connection's own messages (a client's disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def _token_ok(self, scope, headers: dict[str, str]) -> bool:
        from urllib.parse import parse_qs

        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        auth = headers.get("authorization", "")
        if not given and auth.lower().startswith("token "):
            given = auth[6:].strip()
        if not given:
            given = cookie_parser(headers.get("cookie", "")).get(TOKEN_COOKIE, "")
        return bool(given) and secrets.compare_digest(given.encode(), self.options.token.encode())


def create_app(studio: Studio):
    """The studio's ASGI app (FastAPI), every route behind :class:`_Guard`."""
    from mvgen.report.preview import preview_data
    from mvgen.style.styles import Style

    app = FastAPI(title="mvgen studio", docs_url=None, redoc_url=None, openapi_url=None)

    def error(status: int, detail: Any) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(MvgenError)
    async def _mvgen_error(request: Request, exc: MvgenError):
        return error(404 if any(f"no {what} " in str(exc) for what in ("style", "track", "branding file kind")) else 400, str(exc))

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request):
        response = HTMLResponse(_page_html())
        response.set_cookie(TOKEN_COOKIE, studio.options.token, httponly=True, samesite="strict")
        return response

    @app.get("/api/tracks")
    def tracks():
        return [{"index": i, "name": Path(a.audio.path).name, **preview_data(a)} for i, a in enumerate(studio.analyses)]

    def track_index(i: int) -> int:
        if not 0 <= i < len(studio.analyses):
            raise MvgenError(f"no track {i} (the studio has {len(studio.analyses)})", "/api/tracks")
        return i

    @app.get("/api/audio/{i}")
    def audio(i: int):
        return FileResponse(studio.options.tracks[track_index(i)])

    @app.get("/api/frame")
    def frame(t: float = Query(0.0), width: int = Query(640, ge=64, le=MAX_FRAME_WIDTH), track: int = Query(0)):
        if not math.isfinite(t):
            return error(422, f"t must be a finite number of seconds, got {t}")
        return Response(studio.frame_png(track_index(track), t, width), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/clip")
    def clip(t: float = Query(0.0), width: int = Query(320, ge=64, le=MAX_CLIP_WIDTH), track: int = Query(0)):
        if not math.isfinite(t):
            return error(422, f"t must be a finite number of seconds, got {t}")
        video, start_s, end_s = studio.bars_clip_mp4(track_index(track), t, width)
        return Response(video, media_type="video/mp4", headers={"Cache-Control": "no-store", "X-Mvgen-Start-S": f"{start_s:.4f}", "X-Mvgen-End-S": f"{end_s:.4f}"})

    @app.get("/api/styles")
    def styles():
        return {"classes": list(studio.styles), "labels": list(studio.labels)}

    @app.get("/api/styles/{key}")
    def get_style(key: str):
        return {"style": studio.styles[studio.check_key(key)].model_dump(mode="json"), "schema": Style.model_json_schema(),
                "file": str(studio.path_of(key)), "unsaved": studio.styles[key] != studio.saved[key], "version": studio.version(key)}

    @app.put("/api/styles/{key}")
    async def put_style(key: str, request: Request):
        studio.check_key(key)
        try:
            data = await request.json()
        except ValueError:
            return error(400, "the body must be JSON (a style, whole or partial)")
        style, problems = studio.put_style(key, data)
        if style is None:
            return error(422, problems)
        return {"style": style.model_dump(mode="json"), "unsaved": style != studio.saved[key]}

    @app.get("/api/formats")
    def formats():
        from mvgen.delivery.formats import PRESETS

        return {"formats": list(PRESETS)}

    @app.post("/api/render")
    async def render(request: Request):
        from pydantic import ValidationError

        try:
            wanted = RenderRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return error(422, [f"{field_name(e['loc'])}: {validation_problem(e)}" for e in exc.errors(include_url=False)])
        track_index(wanted.track)
        try:
            job = start_render(studio, wanted)
        except MvgenError as exc:  # a branding file it asks for was not uploaded
            return error(422, [str(exc)])
        studio.jobs[job.id] = job
        return {"id": job.id}

    @app.get("/api/branding")
    def branding():
        return {kind: {"name": path.name, "bytes": path.stat().st_size} for kind, path in studio.branding_files().items()}

    @app.get("/api/branding/{kind}")
    def branding_file(kind: str):
        path = studio.branding_files().get(check_branding_kind(kind))
        if path is None:
            return error(404, f"no {kind} was uploaded")
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    @app.put("/api/branding/{kind}")
    async def upload_branding(kind: str, request: Request, name: str = Query("", max_length=255)):
        check_branding_kind(kind)
        try:
            path = studio.keep_branding(kind, name, await request.body())
        except MvgenError as exc:
            return error(422, str(exc))
        return {"kind": kind, "name": path.name, "bytes": path.stat().st_size}

    @app.delete("/api/branding/{kind}")
    def drop_branding(kind: str):
        return {"dropped": studio.drop_branding(kind)}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str):
        if job_id not in studio.jobs:
            return error(404, f"no render {job_id!r}")
        return studio.jobs[job_id].poll()

    @app.post("/api/styles/save")
    async def save(request: Request):
        body = await request.body()
        try:
            versions = (json.loads(body) if body else {}).get("versions", {})
        except (ValueError, AttributeError):
            return error(400, "the body must be JSON: {\"versions\": {class: version}} or nothing")
        if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
            return error(422, "versions must map classes to the versions GET /api/styles/{class} gave")
        written, conflicts = studio.save(versions)
        if conflicts:
            return error(409, conflicts)
        return {"written": [str(p) for p in written], "versions": {key: studio.version(key) for key in studio.styles}}

    return _Guard(app, studio.options)


def _page_html() -> str:
    from importlib.resources import files

    return files("mvgen").joinpath("studio.html").read_text(encoding="utf-8")


def analyze_tracks(options: StudioOptions) -> list:
    """The :class:`mvgen.analysis.track.Analysis` of each of ``options.tracks`` (cached as any analysis is),
    with ``options.classifier``; :class:`MvgenError` naming a track that is not an audio file."""
    from mvgen.analysis.track import analyze

    for track in options.tracks:
        if not track.is_file():
            raise MvgenError("no such audio file", track)
    return [analyze(track, classifier=options.classifier) for track in options.tracks]


def serve(options: StudioOptions, *, analyses: list | None = None, on_ready=None) -> None:
    """Serve the studio until Ctrl-C or SIGTERM (uvicorn stops cleanly on both).

    ``analyses``: the tracks' analyses (default :func:`analyze_tracks`); ``on_ready(url)``: called once the server listens."""
    import uvicorn

    studio = Studio(options, analyses if analyses is not None else analyze_tracks(options))
    config = uvicorn.Config(create_app(studio), host=options.host, port=options.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            on_ready(options.url())

        server.startup = startup
    # uvicorn stops on Ctrl-C and SIGTERM, then raises the signal again once it has shut down: as
    # KeyboardInterrupt (SIGTERM too, through sigterm_interrupts), so the renders are stopped and the
    # command ends normally, stopping being how a server ends
    with sigterm_interrupts():
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            stop_renders(studio.jobs)
