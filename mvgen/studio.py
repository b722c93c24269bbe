"""``mvgen studio``: a local web page to shape each sub-genre's look while watching the track.

The server (FastAPI on uvicorn) binds 127.0.0.1 and answers only requests that carry its access token
(the ``token`` query parameter of the printed URL, the cookie the page sets from it, or
``Authorization: Token <token>``), whose ``Host`` names the server and whose ``Origin``, when sent, is
the page itself (no DNS rebinding, no cross-site requests). It reads only the tracks it was given (by
index: no request names a path) and reads and writes only the styles folder (one ``<class>.yaml`` per
class, or the file that already styles that class). Request bodies are limited to
:data:`MAX_BODY_BYTES`.

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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mvgen.errors import MvgenError
from mvgen.fileio import write_atomic

#: The largest request body the server reads (bytes): a whole style is a few kB.
MAX_BODY_BYTES = 256_000
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


def _height(width: int) -> int:
    """The even height of a 16:9 picture ``width`` px wide (what H.264 and the page's frames take)."""
    return max(2, 2 * round(width * 9 / 16 / 2))


# --------------------------------------------------------------------------- renders


class TextBranding(_RequestModel):
    """The branding a render from the page may carry: text only (files such as a cover or a logo would be
    paths the studio does not serve; give them to ``mvgen render`` or a batch manifest)."""

    artist: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=200)
    release_date: str | None = Field(None, max_length=60)
    end_card_s: float | None = Field(None, ge=0, le=30)


class RenderRequest(_RequestModel):
    """``POST /api/render``: track ``track`` in each of ``formats`` (presets of ``mvgen formats list``, at ``size``
    when given), one clip (``length_s`` None: the whole track; ``start_s`` None: its strongest window),
    optional thumbnail and text branding."""

    track: int = 0
    formats: list[str] = Field(min_length=1, max_length=8)
    length_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    start_s: float | None = Field(None, ge=0, allow_inf_nan=False)
    size: int | None = Field(None, ge=64, le=4320, description="short side in pixels (None: the preset's); a smaller one renders a quick draft")
    thumbnail: bool = False
    branding: TextBranding | None = None

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


def start_render(studio: "Studio", request: RenderRequest) -> RenderJob:
    """Snapshot the current styles, write a batch manifest for ``request`` and start it (see :class:`RenderJob`)."""
    import multiprocessing

    from mvgen.style.styles import style_yaml

    job_id = secrets.token_hex(4)
    folder = studio.options.output_dir / f"studio-{job_id}"
    (folder / "styles").mkdir(parents=True)
    with studio.lock:  # what the page shows now, saved or not
        for key, style in studio.styles.items():
            write_atomic(folder / "styles" / f"{key}.yaml", style_yaml(style))
    clip = {k: v for k, v in (("length_s", request.length_s), ("start_s", request.start_s)) if v is not None}
    manifest = {"output_dir": "renders", "styles": "styles", "classifier": studio.options.classifier,
                "formats": {name: {"preset": name, **({"size": request.size} if request.size else {})} for name in request.formats}, "clips": {"clip" if clip else "full": clip},
                "thumbnail": request.thumbnail,
                "tracks": [{"path": str(studio.options.tracks[request.track].resolve()),
                            **({"branding": request.branding.model_dump(exclude_none=True)} if request.branding else {})}]}
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
            body, more = b"", True
            while more and len(body) <= MAX_BODY_BYTES:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                problem = (413, f"request body over {MAX_BODY_BYTES} bytes")
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
        return error(404 if "no style" in str(exc) or "no track" in str(exc) else 400, str(exc))

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
            return error(422, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)])
        track_index(wanted.track)
        job = start_render(studio, wanted)
        studio.jobs[job.id] = job
        return {"id": job.id}

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


def serve(options: StudioOptions, *, on_ready=None, analyze_track=None) -> None:
    """Analyze the tracks, then serve the studio until Ctrl-C or SIGTERM (uvicorn stops cleanly on both).

    ``analyze_track(path) -> Analysis``: how each track is analyzed (default :func:`mvgen.analysis.track.analyze`
    with ``options.classifier``); ``on_ready(url)``: called once the server listens."""
    import uvicorn

    from mvgen.analysis.track import analyze

    analyze_track = analyze_track or (lambda path: analyze(path, classifier=options.classifier))
    studio = Studio(options, [analyze_track(path) for path in options.tracks])
    config = uvicorn.Config(create_app(studio), host=options.host, port=options.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            on_ready(options.url())

        server.startup = startup
    try:
        server.run()
    finally:
        stop_renders(studio.jobs)
