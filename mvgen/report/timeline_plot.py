"""The genre timeline of a track as a picture: :func:`plot_timeline` draws a PNG with the soft genre
profile as a stacked area under the structure (sections, drops, bars and beats).

The text summary it labels the sections with is :mod:`mvgen.report.timeline`; the colours are
:mod:`mvgen.style.colors`, shared with the preview page. Matplotlib is imported only when drawing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from mvgen.analysis.track import Analysis
from mvgen.style.colors import DROP_COLOR, OUT_OF_SCOPE_HATCH, SECTION_COLORS, genre_color
from mvgen.fileio import atomic_path
from mvgen.genres import OUT_OF_SCOPE, display_name
from mvgen.clock import format_clock
from mvgen.report.timeline import track_genre_lines
from mvgen.report.timeline import profile_arrays, section_genres

_INK = "#22242c"
_MUTED = "#6b6f7b"
_RULE = "#c9cdd6"


def _legend_name(key: str) -> str:
    # The legend column is narrow: the long out-of-scope name takes two lines.
    name = display_name(key)
    return name.replace(" genres", "\ngenres") if key == OUT_OF_SCOPE else name


#: Layout at the reference size 1600 x 600 px; everything scales with the picture.
_REF_W_PX, _REF_H_PX = 1600, 600
_MARGIN_LEFT_PX, _MARGIN_RIGHT_PX = 78, 214
_TITLE_PX, _BOTTOM_PX, _GAP_PX = 52, 44, 6
_SECTIONS_PX, _BEATS_PX = 58, 24
#: Beat ticks and bar lines closer than this (px) blur into a grey smear, so they are thinned out.
_MIN_TICK_SPACING_PX = 3.0
_MIN_BAR_SPACING_PX = 7.0
#: Section boundaries are drawn across the profile only when sections average at least this wide (px).
_MIN_BOUNDARY_SPACING_PX = 40.0
_SECTION_SHORT = {"intro": "in", "build-up": "bu", "drop": "dr", "breakdown": "bd", "outro": "out"}


def _is_dark(color: str) -> bool:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


def _tick_step_s(duration_s: float, axis_px: float) -> float:
    """A round tick spacing (s) that puts a label every ~80 px or more."""
    wanted = max(duration_s * 80.0 / max(axis_px, 1.0), 1e-3)
    for step in (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200):
        if step >= wanted:
            return float(step)
    return 3600.0 * math.ceil(wanted / 3600.0)


def _downsample(times_s: np.ndarray, probabilities: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Average consecutive frames so at most ``max_points`` remain: more than ~2 per pixel adds nothing."""
    n = len(times_s)
    if n <= max_points:
        return times_s, probabilities
    edges = np.linspace(0, n, max_points + 1).astype(int)
    counts = np.diff(edges)[:, None]
    t = np.add.reduceat(times_s, edges[:-1]) / counts[:, 0]
    p = np.add.reduceat(probabilities, edges[:-1], axis=0) / counts
    return t, p


def _thin_every(spacing_s: float, seconds_per_px: float, min_px: float) -> int:
    """Smallest power of two k so that every k-th mark is at least ``min_px`` apart."""
    if spacing_s <= 0:
        return 1
    k = 1
    while spacing_s * k / seconds_per_px < min_px and k < 1 << 20:
        k *= 2
    return k


def _write_png_atomic(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi, metadata={"Software": "mvgen"})


def plot_timeline(analysis: Analysis, path: str | os.PathLike, width_px: int = 1600, height_px: int = 600) -> Path:
    """Draw the genre timeline of ``analysis`` as a PNG of ``width_px`` x ``height_px`` pixels at ``path``.

    From the top: a title (file, duration, tempo, drops), the sections as labelled bands (drops in
    dark), a beat ruler (bar lines and beat ticks, thinned out on long tracks), and the genre profile
    as a stacked area of shares (0..1, one :data:`~mvgen.style.colors.GENRE_COLORS` colour per sub-genre, held flat from
    the first/last frame to the track's ends) with a legend of mean shares. Without a genre profile
    only the structure is drawn, above an empty panel that says so. At least 400 x 200 px
    (``ValueError`` otherwise). Written atomically (a temporary file in the same folder, then
    ``os.replace``); returns ``Path(path)``.
    """
    if width_px < 400 or height_px < 200:
        raise ValueError(f"timeline picture must be at least 400 x 200 px, got {width_px} x {height_px}")
    # Figure + Agg canvas directly: no pyplot, so no global backend switch and no figure registry.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    # Text and margins scale with the picture, but not below 3/4 size, where labels would turn to mush;
    # the profile panel takes whatever room is left.
    scale = min(max(min(width_px / _REF_W_PX, height_px / _REF_H_PX), 0.75), 3.0)
    dpi = 100.0 * scale
    # +0.01 px: Agg truncates figsize * dpi to whole pixels, and w / dpi * dpi may land just below.
    fig = Figure(figsize=((width_px + 0.01) / dpi, (height_px + 0.01) / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    arrays = profile_arrays(analysis)
    duration_s = max(float(analysis.duration_s), 1e-3)

    def px(value: float) -> float:
        return value * scale

    left_px, right_px = px(_MARGIN_LEFT_PX), px(_MARGIN_RIGHT_PX)
    axis_w_px = width_px - left_px - right_px
    top_px = px(_TITLE_PX)
    bottom_px = px(_BOTTOM_PX)
    sections_px, beats_px = px(_SECTIONS_PX), px(_BEATS_PX)

    def rect(y_top_px: float, h_px: float) -> list[float]:
        return [left_px / width_px, 1.0 - (y_top_px + h_px) / height_px, axis_w_px / width_px, h_px / height_px]

    ax_sections = fig.add_axes(rect(top_px, sections_px))
    ax_beats = fig.add_axes(rect(top_px + sections_px + px(_GAP_PX) * 0.5, beats_px), sharex=ax_sections)
    profile_top_px = top_px + sections_px + beats_px + px(_GAP_PX) * 1.5
    ax_profile = fig.add_axes(rect(profile_top_px, height_px - profile_top_px - bottom_px), sharex=ax_sections)

    base_pt = 10.0  # font sizes in points scale with the dpi, i.e. with the picture
    seconds_per_px = duration_s / axis_w_px

    _draw_title(fig, analysis, left_px / width_px, (width_px - right_px) / width_px, 1.0 - top_px * 0.45 / height_px, base_pt)
    legend_x = (width_px - right_px + px(18)) / width_px
    unlabelled = _draw_sections(fig, ax_sections, analysis, axis_w_px, base_pt)
    _draw_beats(ax_beats, analysis, seconds_per_px, base_pt)
    _draw_profile(ax_profile, analysis, arrays, axis_w_px, base_pt)
    if arrays is not None:
        legend_pt = min(base_pt * 0.9, (height_px - profile_top_px) / (len(arrays[0]) + 1) / 1.75 / dpi * 72.0)
        _draw_legend(fig, ax_profile, arrays, legend_pt, legend_x)
    if unlabelled:
        _draw_section_key(fig, ax_sections, unlabelled, base_pt * 0.8, legend_x)

    from matplotlib.ticker import FuncFormatter, MultipleLocator

    step_s = _tick_step_s(duration_s, axis_w_px)
    decimals = 1 if step_s < 1 else 0
    for ax in (ax_sections, ax_beats, ax_profile):
        ax.set_xlim(0.0, duration_s)
        ax.xaxis.set_major_locator(MultipleLocator(step_s))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _pos: format_clock(t, decimals)))
        ax.tick_params(axis="x", labelbottom=ax is ax_profile, bottom=ax is ax_profile, length=3, color=_RULE, labelsize=base_pt * 0.9, labelcolor=_MUTED)
    _write_png_atomic(fig, path)
    return path


def _draw_title(fig, analysis: Analysis, x0: float, x1: float, y: float, base_pt: float) -> None:
    """File name on the left (shortened with an ellipsis if it would run into the details), details right."""
    details = [format_clock(analysis.duration_s, 0)]
    details.append("no steady beat" if analysis.tempo_bpm is None else f"{analysis.tempo_bpm:.1f} bpm")
    drops = len(analysis.drops)
    details.append(f"{drops} drop{'s' if drops != 1 else ''}")
    details.append(f"{len(analysis.sections)} section{'s' if len(analysis.sections) != 1 else ''}")
    tracks = track_genre_lines(analysis)
    if len(tracks) == 1:
        details.insert(0, tracks[0])  # the track's genre as a whole, kept longest as the picture narrows
    elif tracks:
        details.insert(0, f"{len(tracks)} tracks")
    right = fig.text(x1, y, "   ·   ".join(details), ha="right", va="center", fontsize=base_pt * 1.05, color=_MUTED)
    renderer = fig.canvas.get_renderer()
    # On a narrow picture the name keeps at least 40% of the width: the least useful details go first.
    while len(details) > 1 and right.get_window_extent(renderer).x0 < fig.bbox.width * (x0 + 0.4 * (x1 - x0)):
        details.pop()
        right.set_text("   ·   ".join(details))
    name = Path(analysis.audio.path).name or analysis.audio.path
    left = fig.text(x0, y, name, ha="left", va="center", fontsize=base_pt * 1.35, fontweight="bold", color=_INK)
    room_px = right.get_window_extent(renderer).x0 - fig.bbox.width * x0 - 24.0 * fig.dpi / 100.0
    while len(name) > 1 and left.get_window_extent(renderer).width > room_px:
        name = name[: max(1, int(len(name) * 0.9) - 1)]
        left.set_text(name.rstrip() + "…")


def _strip_axes(ax) -> None:
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)


def _side_label(ax, text: str, base_pt: float) -> None:
    ax.text(-0.008, 0.5, text, transform=ax.transAxes, ha="right", va="center", fontsize=base_pt * 0.85, color=_MUTED)


def _draw_sections(fig, ax, analysis: Analysis, axis_w_px: float, base_pt: float) -> list[str]:
    """Bands per section with the label (and the leading genre when it fits); returns the labels of
    bands too narrow for their full name, in first-seen order, so a colour key can explain them."""
    from matplotlib.patches import FancyBboxPatch

    _strip_axes(ax)
    ax.set_ylim(0.0, 1.0)
    _side_label(ax, "sections", base_pt)
    duration_s = max(float(analysis.duration_s), 1e-3)
    px_per_s = axis_w_px / duration_s
    gap_s = 1.5 / px_per_s  # a hair of white between bands, so equal neighbours stay two bands
    rows = section_genres(analysis)
    if not rows:
        ax.axhspan(0.06, 0.94, color="#f3f4f7", linewidth=0)
        ax.text(0.5, 0.5, "no sections", transform=ax.transAxes, ha="center", va="center", fontsize=base_pt * 0.85, color=_MUTED, style="italic")
    renderer = fig.canvas.get_renderer()
    unlabelled: list[str] = []
    for row in rows:
        start_s, end_s = max(row.start_s, 0.0), min(row.end_s, duration_s)
        if end_s <= start_s:
            continue
        color = SECTION_COLORS.get(row.label, "#e3e3e3")
        width_s = max(end_s - start_s - gap_s, 0.5 / px_per_s)
        ax.add_patch(FancyBboxPatch(
            (start_s + gap_s / 2, 0.06), width_s, 0.88,
            boxstyle="round,pad=0,rounding_size=0.0", linewidth=0, facecolor=color,
        ))
        room_px = width_s * px_per_s - 8.0 * fig.dpi / 100.0
        ink = "white" if _is_dark(color) else _INK
        center_s = start_s + (end_s - start_s) / 2
        # Two lines (label, leading genre) when they fit, else the label alone, else a short code.
        second = None
        if row.top:
            key, share = row.top[0]
            second = f"{display_name(key)} {share * 100:.0f}%"
        for label, sub in ((row.label, second), (row.label, None), (_SECTION_SHORT.get(row.label, row.label[:2]), None)):
            texts = [ax.text(center_s, 0.5 if sub is None else 0.66, label, ha="center", va="center",
                             fontsize=base_pt * 0.95, fontweight="bold", color=ink, clip_on=True)]
            if sub is not None:
                texts.append(ax.text(center_s, 0.3, sub, ha="center", va="center", fontsize=base_pt * 0.78,
                                     color=ink, alpha=0.85, clip_on=True))
            if max(t.get_window_extent(renderer).width for t in texts) <= room_px:
                break
            for t in texts:
                t.remove()
        # A band too narrow even for the short code stays blank: its colour and the key say what it is.
        if label != row.label and row.label not in unlabelled:
            unlabelled.append(row.label)
    return unlabelled


def _draw_section_key(fig, ax_sections, labels: list[str], font_pt: float, x: float) -> None:
    """Colour key of the section bands, beside them, for tracks whose bands are too narrow to name."""
    from matplotlib.patches import Patch

    order = [label for label in SECTION_COLORS if label in labels] + [label for label in labels if label not in SECTION_COLORS]
    handles = [Patch(facecolor=SECTION_COLORS.get(label, "#e3e3e3"), edgecolor="none", label=label) for label in order]
    top = ax_sections.get_position().y1
    fig.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(x, top), frameon=False, fontsize=font_pt, ncol=2,
        handlelength=1.0, handleheight=0.9, borderaxespad=0.0, labelspacing=0.3, columnspacing=1.0, handletextpad=0.5,
    )


def _draw_beats(ax, analysis: Analysis, seconds_per_px: float, base_pt: float) -> None:
    """Bar lines (downbeats) and beat ticks, drops shaded behind them; thinned so marks stay apart."""
    _strip_axes(ax)
    ax.set_ylim(0.0, 1.0)
    ax.axhspan(0.0, 1.0, color="#f3f4f7", linewidth=0, zorder=0)
    for drop in analysis.drops:
        ax.axvspan(drop.start_s, drop.end_s, ymin=0.0, ymax=1.0, color=DROP_COLOR, alpha=0.16, linewidth=0, zorder=0.5)
    beats_s = np.asarray(analysis.beats_s, dtype=np.float64)
    bars_s = np.asarray(analysis.downbeats_s, dtype=np.float64)
    if not len(beats_s) and not len(bars_s):
        ax.text(0.5, 0.5, "no steady beat", transform=ax.transAxes, ha="center", va="center", fontsize=base_pt * 0.85, color=_MUTED, style="italic")
        _side_label(ax, "beats", base_pt)
        return
    beat_s = float(np.median(np.diff(beats_s))) if len(beats_s) > 1 else 0.0
    bar_s = float(np.median(np.diff(bars_s))) if len(bars_s) > 1 else 0.0
    show_beats = len(beats_s) > 0 and beat_s / seconds_per_px >= _MIN_TICK_SPACING_PX
    if show_beats:
        ax.vlines(beats_s, 0.0, 0.32, color=_MUTED, linewidth=0.6, zorder=2)
    every = _thin_every(bar_s, seconds_per_px, _MIN_BAR_SPACING_PX)
    if len(bars_s):
        # Bars are counted from the first downbeat, so the kept lines fall on 2/4/8/16-bar phrase starts.
        ax.vlines(bars_s[::every], 0.0, 1.0, color=_INK, linewidth=0.7, alpha=0.75, zorder=3)
    if every == 1:
        label = "beats" if show_beats else "bars"
    else:
        label = f"{every} bars"  # one line per this many bars
    _side_label(ax, label, base_pt)


def _draw_profile(ax, analysis: Analysis, arrays, axis_w_px: float, base_pt: float) -> None:
    """Stacked area of the genre shares over time with section boundaries and drop caps on top;
    an empty panel with a note when there is no profile."""
    duration_s = max(float(analysis.duration_s), 1e-3)
    ax.set_ylim(0.0, 1.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_RULE)
    if arrays is None:
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.axhspan(0.0, 1.0, color="#f6f7f9", linewidth=0, zorder=0)
        ax.text(0.5, 0.5, "no genre profile\nanalyze with a classifier to see the sub-genre blend", transform=ax.transAxes,
                ha="center", va="center", fontsize=base_pt * 1.1, color=_MUTED, linespacing=1.8)
        return
    labels, times_s, probabilities = arrays
    times_s, probabilities = _downsample(times_s, probabilities, max(int(axis_w_px * 2), 16))
    # Frames are window centres, so the first/last sit a few seconds inside the track: hold them flat
    # to the ends instead of leaving white wedges.
    if times_s[0] > 0:
        times_s = np.concatenate([[0.0], times_s])
        probabilities = np.concatenate([probabilities[:1], probabilities])
    if times_s[-1] < duration_s:
        times_s = np.concatenate([times_s, [duration_s]])
        probabilities = np.concatenate([probabilities, probabilities[-1:]])
    colors = [genre_color(key, j) for j, key in enumerate(labels)]
    # Edges in the face colour hide the hairline seams Agg's anti-aliasing leaves between layers.
    layers = ax.stackplot(times_s, probabilities.T, colors=colors, edgecolor=colors, linewidth=0.4, antialiased=True, zorder=1)
    for key, layer in zip(labels, layers):
        if key == OUT_OF_SCOPE:  # hatched, so "unsure" never reads as one more genre
            layer.set_hatch(OUT_OF_SCOPE_HATCH)
            layer.set_edgecolor(_MUTED)
            layer.set_linewidth(0.0)
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0", "", "50%", "", "100%"])
    ax.tick_params(axis="y", labelsize=base_pt * 0.85, labelcolor=_MUTED, color=_RULE, length=3)
    ax.set_ylabel("share", fontsize=base_pt * 0.9, color=_MUTED, labelpad=4)
    boundaries_s = [section.start_s for section in analysis.sections[1:]]
    # Dense boundaries (a long mix) would stripe the area into a barcode; the bands above still show them.
    if boundaries_s and duration_s / (len(boundaries_s) + 1) / duration_s * axis_w_px >= _MIN_BOUNDARY_SPACING_PX:
        ax.vlines(boundaries_s, 0.0, 1.0, color="white", linewidth=1.1, alpha=0.9, zorder=3)
    for drop in analysis.drops:
        # A dark cap above the area marks each drop without tinting the genre colours.
        ax.axvspan(drop.start_s, drop.end_s, ymin=1.0, ymax=1.025, color=DROP_COLOR, linewidth=0, clip_on=False, zorder=4)


def _draw_legend(fig, ax, arrays, font_pt: float, x: float) -> None:
    """All sub-genres with the track's mean share, top layer first, absent ones greyed out."""
    from matplotlib.patches import Patch

    labels, _, probabilities = arrays
    mean = probabilities.mean(axis=0)
    peak = probabilities.max(axis=0)
    handles = []
    for j in reversed(range(len(labels))):  # stackplot draws the first label at the bottom
        present = peak[j] >= 0.01
        share = f"{mean[j] * 100:.0f}%" if mean[j] >= 0.005 else "<1%"
        unsure = labels[j] == OUT_OF_SCOPE
        handles.append(Patch(facecolor=genre_color(labels[j], j), edgecolor=_MUTED if unsure else "none", hatch=OUT_OF_SCOPE_HATCH if unsure else None,
                             linewidth=0.0, alpha=1.0 if present else 0.25,
                             label=f"{_legend_name(labels[j])}  {share}" if present else _legend_name(labels[j])))
    box = ax.get_position()
    legend = fig.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(x, box.y1), frameon=False, fontsize=font_pt,
        handlelength=1.2, handleheight=1.0, borderaxespad=0.0, labelspacing=0.55, title="sub-genre · mean share",
        title_fontsize=font_pt * 0.95, alignment="left",
    )
    legend.get_title().set_color(_MUTED)
    for text, handle in zip(legend.get_texts(), handles):
        text.set_color(_INK if handle.get_alpha() == 1.0 else _MUTED)
