"""`mvgen preview`: a self-contained, offline HTML page of a track's genre timeline with a synced player.

Entry point: :func:`write_preview`. The page holds the analysis as JSON, draws it on a canvas with
inline JavaScript (no CDN, no external file): the soft sub-genre profile as a stacked area, section
bands, drops, beats and downbeats. The track's audio is embedded (AAC, base64), or with ``video`` the
rendered videos are linked by their paths relative to the page (several: a picker chooses which plays).
A video knows its window in the track (its mp4 tags, :func:`mvgen.media.assemble.read_video_window`;
none: the whole track from 0): the timeline is dimmed outside it, the playhead is at the track time
of the video's frame (the window's start plus the video's time, wrapped for a loop), and clicking
the timeline seeks inside the window only: a click before or after it goes to its first or last
frame (rather than doing nothing, which reads as a broken page; the dimming shows why it stopped
there). Hovering shows the exact profile at that moment. The page exposes ``window.mvgenPreview``
(``duration_s``, ``profileAt(t)``, ``seek(t)`` and ``trackTime()`` in track seconds, ``clip()``: the
playing video's window, ``select(i)``: play the i-th video) for scripting and tests.
"""

from __future__ import annotations

import base64
import html
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mvgen.analysis.track import Analysis, analyze
from mvgen.media.assemble import VideoWindow, read_video_window
from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.errors import MvgenError
from mvgen.fileio import write_atomic
from mvgen.genres import OUT_OF_SCOPE, display_name
from mvgen.style.colors import DROP_COLOR, SECTION_COLORS, genre_color
from mvgen.report.timeline import track_genre_lines


def _audio_data_uri(track: Path, bitrate: str = "128k") -> str:
    """The track as AAC in an MP4 container, as a data URI (about 1 MB per minute)."""
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(track), "-vn", "-c:a", "aac", "-b:a", bitrate,
            "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1"]
    result = subprocess.run(args, capture_output=True)
    if result.returncode != 0 or not result.stdout:
        raise MvgenError(f"cannot encode the audio for the page: {' '.join(result.stderr.decode(errors='replace').split())[-200:]}", track)
    return "data:audio/mp4;base64," + base64.b64encode(result.stdout).decode("ascii")


def preview_data(analysis: Analysis) -> dict:
    """What the page draws, JSON-able: times in seconds, the profile as rows of shares over the model's
    classes and ``other`` (where the model is unsure: drawn hatched, "outside the model's genres")."""
    profile = analysis.genre_profile
    labels, times_s, shares = profile.scoped() if profile and profile.times_s else ([], [], [])
    return {
        "title": Path(analysis.audio.path).name,
        "duration_s": analysis.duration_s,
        "tempo_bpm": analysis.tempo_bpm,
        "tracks": track_genre_lines(analysis),
        "beats_s": analysis.beats_s,
        "downbeats_s": analysis.downbeats_s,
        "drops": [[d.start_s, d.end_s] for d in analysis.drops],
        "sections": [[s.start_s, s.end_s, s.label] for s in analysis.sections],
        "genres": [{"key": k, "name": display_name(k), "color": genre_color(k, j), "unsure": k == OUT_OF_SCOPE} for j, k in enumerate(labels)],
        "profile_times_s": [float(t) for t in times_s],
        "profile": [[round(float(v), 4) for v in row] for row in shares],
        "section_colors": SECTION_COLORS,
        "drop_color": DROP_COLOR,
    }


#: Kinds of deliverable whose file is a picture the page can show inline.
INLINE_PICTURES = ("thumbnail", "loop")


def deliverables_html(deliverables: Sequence, page: Path) -> str:
    """The page's list of a track's deliverables: each file (linked relative to ``page``), its kind, a
    picture for thumbnails and loops, and its platform checks (all passed, or which failed and why, in
    red: a deliverable that could not be made fails its ``written`` check; every check in a ``<details>``). ``deliverables``: objects with ``path``, ``kind``, ``passed`` and
    ``checks`` (each with ``name``, ``passed``, ``why``): :class:`mvgen.delivery.deliverables.Deliverable` or
    the batch report's :class:`mvgen.batch.DeliverableResult`."""
    if not deliverables:
        return ""
    rows = []
    for d in deliverables:
        href = html.escape(os.path.relpath(Path(d.path).resolve(), page.resolve().parent))
        failed = [c for c in d.checks if not c.passed]
        verdict = f'<span class="ok">&#10003; all {len(d.checks)} checks passed</span>' if not failed else \
            '<span class="bad">&#10007; ' + "; ".join(html.escape(f"{c.name}: {c.why}") for c in failed) + "</span>"
        every = "".join(f'<li class="{"ok" if c.passed else "bad"}">{html.escape(c.name)}: {html.escape(c.why)}</li>' for c in d.checks)
        picture = f'<img src="{href}" alt="">' if d.kind in INLINE_PICTURES and Path(d.path).is_file() else ""  # a failed one may have no file
        rows.append(f'<tr data-kind="{html.escape(d.kind)}" data-passed="{int(not failed)}"><td><a href="{href}">{html.escape(Path(d.path).name)}</a>{picture}</td>'
                    f"<td>{html.escape(d.kind)}</td><td>{verdict}<details><summary>checks</summary><ul>{every}</ul></details></td></tr>")
    return ('<section id="deliverables"><h2>Deliverables</h2><table><thead><tr><th>file</th><th>kind</th><th>platform checks</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def video_data(videos: Sequence[Path], page: Path, duration_s: float) -> list[dict]:
    """The page's list of ``videos`` (JSON-able): each one's name, its path relative to ``page`` and its
    window in the track (track seconds; a video without window tags: the whole track, ``duration_s``,
    from 0). :class:`MvgenError` for a file that is not there or not a readable video."""
    entries = []
    for video in videos:
        if not video.is_file():
            raise MvgenError("no such video file", video)
        window = read_video_window(video) or VideoWindow(0.0, duration_s)
        entries.append({"name": video.name, "src": os.path.relpath(video.resolve(), page.resolve().parent),
                        "window": {"start_s": window.start_s, "end_s": window.end_s, "loop": window.loop, "loop_cut_s": window.loop_cut_s}})
    return entries


def write_preview(track: str | os.PathLike, out: str | os.PathLike, video: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                  analysis: Analysis | None = None, deliverables: Sequence = ()) -> Path:
    """Write the preview page of ``track`` to ``out`` (.html) and return its path.

    ``video``: a rendered video of the track (or several, e.g. a batch's clips: a picker chooses) to play
    instead of the audio, linked relative to the page; each is drawn at its window in the track.
    ``deliverables``: the track's files with their platform checks, listed under the timeline (see
    :func:`deliverables_html`).
    """
    track, out = Path(track), Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise MvgenError("the preview must be an .html file", out)
    videos = [] if video is None else [Path(video)] if isinstance(video, (str, os.PathLike)) else [Path(v) for v in video]
    analysis = analysis or analyze(track)
    data = {**preview_data(analysis), "videos": video_data(videos, out, analysis.duration_s)}
    if videos:
        first = data["videos"][0]
        picker = "" if len(videos) < 2 else '<label id="pick">video <select id="videos">' + "".join(
            f'<option value="{i}">{html.escape(v["name"])}</option>' for i, v in enumerate(data["videos"])) + "</select></label>"
        loop = " loop" if first["window"]["loop"] else ""
        media = f'{picker}<video id="player" controls preload="auto"{loop} src="{html.escape(first["src"])}"></video>'
    else:
        media = f'<audio id="player" controls preload="auto" src="{_audio_data_uri(track)}"></audio>'
    page = _TEMPLATE.replace("__TITLE__", html.escape(Path(analysis.audio.path).name)).replace("__MEDIA__", media)
    page = page.replace("__DELIVERABLES__", deliverables_html(deliverables, out))
    page = page.replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    return write_atomic(out, page)


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__ - mvgen genre timeline</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1f27; background: #fafafa; }
 h1 { font-size: 18px; margin: 0 0 4px; } .meta { color: #666; margin-bottom: 12px; }
 #wrap { position: relative; } canvas { width: 100%; height: 260px; display: block; cursor: crosshair; background: #fff; border: 1px solid #ddd; }
 #tip { position: absolute; pointer-events: none; background: rgba(20,22,30,.92); color: #fff; padding: 6px 8px; border-radius: 4px; font-size: 12px; display: none; white-space: nowrap; }
 #legend span { display: inline-block; margin: 8px 14px 0 0; } #legend i { display: inline-block; width: 10px; height: 10px; margin-right: 5px; border-radius: 2px; }
 audio, video { width: 100%; margin-top: 12px; } video { max-height: 360px; background: #000; }
 #pick { display: block; margin-top: 12px; } #clip { color: #666; }
 #deliverables h2 { font-size: 15px; margin: 18px 0 6px; } #deliverables table { border-collapse: collapse; width: 100%; background: #fff; }
 #deliverables td, #deliverables th { border-top: 1px solid #e3e3e3; padding: 6px 8px; text-align: left; vertical-align: top; }
 #deliverables img { display: block; max-width: 240px; max-height: 135px; margin-top: 4px; } .ok { color: #17803d; } .bad { color: #b3261e; }
 #deliverables details { color: #555; font-size: 12px; } #deliverables ul { margin: 4px 0; padding-left: 18px; }
</style></head>
<body>
<h1>__TITLE__</h1><div class="meta"><span id="meta"></span> <span id="clip"></span></div>
<div id="wrap"><canvas id="timeline" width="1200" height="260" data-drawn="0"></canvas><div id="tip"></div></div>
<div id="legend"></div>
__MEDIA__
__DELIVERABLES__
<script id="mvgen-data" type="application/json">__DATA__</script>
<script>
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("mvgen-data").textContent);
  const canvas = document.getElementById("timeline"), ctx = canvas.getContext("2d");
  const player = document.getElementById("player"), tip = document.getElementById("tip");
  const W = canvas.width, H = canvas.height, BAND = 22, TICKS = 18, top = BAND, bottom = H - TICKS;
  const x = t => t / D.duration_s * W, timeAt = px => Math.max(0, Math.min(D.duration_s, px / W * D.duration_s));
  // Outside the playing video's window the timeline is dimmed by this veil (the music is still readable).
  const VEIL = "rgba(29, 31, 39, 0.55)";
  // The playing video's window in the track (s); the audio, or a video without window tags: the whole track from 0.
  const WHOLE = { start_s: 0, end_s: D.duration_s, loop: false, loop_cut_s: 0 };
  let clip = D.videos.length ? D.videos[0].window : WHOLE;
  const clipLength = () => clip.end_s - clip.start_s;
  function trackTime(videoT) {  // the track time of the video's time videoT: the window's start later, wrapped for a loop
    if (clip.loop && clipLength() > 0) return clip.start_s + (clip.loop_cut_s + videoT) % clipLength();
    return Math.min(clip.end_s, clip.start_s + videoT);
  }
  function videoTime(t) {  // the video's time showing track time t, t clamped to the window first
    t = Math.max(clip.start_s, Math.min(clip.end_s, t));
    let v = t - clip.start_s;
    if (clip.loop && clipLength() > 0) v = ((v - clip.loop_cut_s) % clipLength() + clipLength()) % clipLength();
    return isFinite(player.duration) ? Math.min(v, player.duration) : v;
  }
  const fmt = t => Math.floor(t / 60) + ":" + (t % 60).toFixed(2).padStart(5, "0");
  document.getElementById("meta").textContent = fmt(D.duration_s) + (D.tempo_bpm ? "  ·  " + D.tempo_bpm.toFixed(2) + " bpm" : "") +
    "  ·  " + D.beats_s.length + " beats  ·  " + D.drops.length + " drops" + (D.tracks.length ? "  ·  " + D.tracks.join("  ·  ") : "");

  function profileAt(t) {  // linear interpolation between profile rows; null without a profile
    const T = D.profile_times_s, P = D.profile;
    if (!T.length) return null;
    if (t <= T[0]) return P[0].slice();
    if (t >= T[T.length - 1]) return P[P.length - 1].slice();
    let lo = 0, hi = T.length - 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (T[mid] <= t) lo = mid; else hi = mid; }
    const a = (t - T[lo]) / (T[hi] - T[lo]);
    return P[lo].map((p, g) => p * (1 - a) + P[hi][g] * a);
  }

  // "Outside the model's genres" is hatched, so it never reads as one more genre.
  const hatch = (() => {
    const c = document.createElement("canvas"); c.width = c.height = 8;
    const g = c.getContext("2d"); g.fillStyle = "#eceef2"; g.fillRect(0, 0, 8, 8);
    g.strokeStyle = "#8a8f9c"; g.lineWidth = 1.2; g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
    return ctx.createPattern(c, "repeat");
  })();
  const fillOf = g => g.unsure ? hatch : g.color;
  const swatch = g => g.unsure ? "background:repeating-linear-gradient(135deg,#8a8f9c 0 1.5px,#eceef2 1.5px 4px)" : "background:" + g.color;

  let base = null;
  function draw() {
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, W, H);
    for (const [s, e, label] of D.sections) {  // section bands with labels
      const band = D.section_colors[label] || "#e8e8e8";
      ctx.fillStyle = band; ctx.fillRect(x(s), 0, x(e) - x(s), BAND - 2);
      const [r, g, b] = [1, 3, 5].map(i => parseInt(band.slice(i, i + 2), 16));
      ctx.fillStyle = 0.2126 * r + 0.7152 * g + 0.0722 * b < 110 ? "#fff" : "#333"; ctx.font = "11px system-ui, sans-serif"; ctx.fillText(label, x(s) + 4, 14, Math.max(0, x(e) - x(s) - 6));
    }
    for (let px = 0; px < W; px++) {  // stacked area, one column per pixel
      const p = profileAt(timeAt(px + 0.5));
      if (!p) break;
      let y = bottom;
      p.forEach((share, g) => { const h = share * (bottom - top); ctx.fillStyle = fillOf(D.genres[g]); ctx.fillRect(px, y - h, 1, h + 0.5); y -= h; });
    }
    ctx.fillStyle = D.drop_color;  // drops: a bar under the profile
    for (const [s, e] of D.drops) ctx.fillRect(x(s), bottom, x(e) - x(s), 4);
    ctx.fillStyle = "#555";
    for (const b of D.beats_s) ctx.fillRect(Math.round(x(b)), bottom + 6, 1, 5);
    ctx.fillStyle = "#111";
    for (const b of D.downbeats_s) ctx.fillRect(Math.round(x(b)), bottom + 5, 1, TICKS - 5);
    ctx.fillStyle = VEIL;  // the playing video's window: everything outside it dimmed
    ctx.fillRect(0, 0, x(clip.start_s), H);
    ctx.fillRect(x(clip.end_s), 0, W - x(clip.end_s), H);
    document.getElementById("clip").textContent = clip === WHOLE ? "" : "·  this video: " + fmt(clip.start_s) + " to " + fmt(clip.end_s) + (clip.loop ? " (loop)" : "");
    base = ctx.getImageData(0, 0, W, H);
    canvas.dataset.drawn = "1";
  }

  function drawPlayhead() {
    if (!base) return;
    ctx.putImageData(base, 0, 0);
    const px = Math.round(x(trackTime(player.currentTime || 0)));
    ctx.fillStyle = "#000"; ctx.fillRect(px - 1, 0, 2, H);
  }

  function seek(t) { player.currentTime = videoTime(t); drawPlayhead(); return trackTime(player.currentTime); }
  function canvasX(ev) { const r = canvas.getBoundingClientRect(); return (ev.clientX - r.left) / r.width * W; }
  canvas.addEventListener("click", ev => seek(timeAt(canvasX(ev))));
  canvas.addEventListener("mousemove", ev => {
    const t = timeAt(canvasX(ev)), p = profileAt(t);
    const rows = p ? p.map((share, g) => [share, D.genres[g]]).sort((a, b) => b[0] - a[0]).filter(r => r[0] >= 0.005)
      .map(([share, g]) => '<i style="display:inline-block;width:8px;height:8px;' + swatch(g) + '"></i> ' + g.name + " " + (100 * share).toFixed(1) + "%") : ["no genre profile"];
    const outside = t < clip.start_s || t > clip.end_s ? " (outside this video)" : "";
    tip.innerHTML = "<b>" + fmt(t) + "</b>" + outside + "<br>" + rows.join("<br>");
    const r = canvas.getBoundingClientRect();
    tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - 180) + "px"; tip.style.top = (ev.clientY - r.top + 12) + "px";
    tip.style.display = "block";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  player.addEventListener("timeupdate", drawPlayhead);
  player.addEventListener("seeked", drawPlayhead);
  (function tick() { if (!player.paused) drawPlayhead(); requestAnimationFrame(tick); })();

  function select(i) {  // play the i-th video (the batch's pages list every clip of the track)
    clip = D.videos[i].window; player.src = D.videos[i].src; player.loop = clip.loop;
    if (picker) picker.value = String(i);
    draw(); drawPlayhead();
  }
  const picker = document.getElementById("videos");
  if (picker) picker.addEventListener("change", () => select(Number(picker.value)));
  player.addEventListener("loadedmetadata", drawPlayhead);

  document.getElementById("legend").innerHTML = D.genres.map(g => '<span><i style="' + swatch(g) + '"></i>' + g.name + "</span>").join("");
  draw(); drawPlayhead();
  window.mvgenPreview = { duration_s: D.duration_s, profileAt: profileAt, seek: seek, timeAt: timeAt, data: D,
    trackTime: () => trackTime(player.currentTime || 0), clip: () => clip, select: select };
})();
</script>
</body></html>
"""
