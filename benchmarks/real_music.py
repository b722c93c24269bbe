"""Real electronic music with exact reference beats, for ``bench_analysis.py``.

Where the music comes from
    Human-made tracker modules (.xm/.s3m/.it/.stm/.mod) of trance, techno and house-style dance
    music by demoscene musicians, shipped in free game-data packages of Debian main (licences in
    ``TRACKS``; each package's copyright file is kept beside its modules). ``fetch`` downloads the
    ``.deb`` files with ``apt-get download`` (these machines reach Debian's package registry and
    nothing else) and takes the modules out with ``dpkg-deb``. mvgen generated none of it.

Where the reference beats come from
    A module *is* its score: its rows are played at a fixed rate set by the module's speed
    (ticks per row) and tempo, and a beat is every ``rows_per_beat``-th row of a pattern (the
    row highlight of trackers: 4 rows at speed 6, 8 rows at speed 3). ``render_with_beats``
    renders the module with libopenmpt through ctypes in blocks of 16 sample frames and records
    the sample at which the player moves to each row, so the reference is the renderer's own
    timing (within 0.2 ms), not an annotator's tap. Only modules whose speed and tempo never
    change inside the excerpt are used, so every track has one tempo and evenly spaced beats.
    The beat level and phase were chosen per track from the drum parts in the pattern data
    (``Track.evidence``) and are checked on the audio by ``kick_check``: the bass drum, rendered
    alone through libopenmpt_ext's instrument muting, has far more onset strength on the
    reference beats than half a beat later. ``onset_contrast`` gives the same ratio on the full
    mix, for information only: in dance music the off-beat hi-hat and bass are often as strong as
    the kick (a tracker locked half a beat off is the classic failure, and these tracks test it).

Where the reference downbeats come from, and how far to trust them
    Bars are counted from each pattern's row 0, ``rows_per_beat * 4`` rows to the bar: trackers
    lay music out so that a pattern starts on a bar. Where some pattern is not a whole number of
    bars (the bar grid would jump) no downbeats are given (bomberclone, ri-li's jeu1).
    ``bar_check`` tests the convention against the score: the melodic parts (instruments with
    at least 5 pitches) change pitch clearly more often on beat 1 than on any other beat (by 7 %
    to 2x) in 6 of the 11 tracks with downbeats (criticalmass, pachi, njam-ritam, madbomber,
    tecnoballz, ri-li jeu2); in solarwolf, powermanga, penguin-command and klovninarki the four
    beats are within 3 % of each other, and njam-satisfy's one melodic part changes on every
    beat, so there the reference rests on the pattern
    convention alone. Nobody listened to check the bar phase.

Development and held-out tracks
    ``Track.split``: mvgen's beat and downbeat cues were tuned looking at the "dev" tracks only;
    the "held_out" ones (ri-li-data, a package none of the dev tracks come from) were measured
    once the tuning was done, and ``bench_analysis.py`` reports them apart.

What must be installed
    Debian/Ubuntu: ``apt-get update && apt-get install -y libopenmpt0`` (the renderer, loaded with
    ctypes; no Python binding needed; ``apt-get download`` and ``dpkg-deb`` come with apt/dpkg),
    plus numpy, soundfile and, for the checks, librosa (all in the project's virtualenv).

Run once (about a minute: about 45 MB of packages, 13 tracks), then point ``bench_analysis.py --real-cache`` at the same folder:

    python benchmarks/real_music.py --cache ~/.cache/mvgen-bench

Output: ``CACHE/tracks/NAME.wav`` (44.1 kHz stereo, 16 bit) and ``CACHE/tracks/NAME.beats.json``
(``tempo_bpm``, ``beats_s``, ``downbeats_s``, ``duration_s``, where the track came from and the
checks' results). Beat times are those of the note onsets; librosa's beat times typically land
30-45 ms later (its onset envelope lags), well inside mir_eval's 70 ms window.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class RealMusicError(RuntimeError):
    """A registry, tool or library this script needs is missing or unreachable (message says which)."""


@dataclass(frozen=True)
class Track:
    name: str  # file stem in CACHE/tracks
    package: str  # Debian package (main) that ships the module
    member: str  # path of the module inside the package
    rows_per_beat: int
    title: str
    author: str
    licence: str
    style: str
    evidence: str  # why this beat level: where the bass drum sits in the pattern data
    max_s: float = 120.0
    split: str = "dev"  # "dev": may be looked at while tuning mvgen; "held_out": never tuned on
    swing: bool = False  # the module swings its rows (alternating speeds); see render_with_beats


TRACKS: list[Track] = [
    Track("criticalmass-critical", "criticalmass-data", "usr/share/games/criticalmass/lg-criti.xm", 8,
          "Critical (LG's Millennium Remake)", "Lunar Gravity / Project 2501, original by Burkey", "GPL-2+ (criticalmass-data)",
          "trance", "speed 3, tempo 150; 'Bassdrum' on rows 0 and 8 of every 16, 'Closed Hihat' every 2 rows"),
    Track("powermanga-goa", "powermanga-data", "usr/share/games/powermanga/sounds/music_congratulations.zik", 8,
          "(Flame Compo #2 entry, short version)", "Logic Dream (Michel Dogniaux)", "GPL-3+ (powermanga-data)",
          "goa trance", "speed 3, tempo 150 (an XM file named .zik); instrument 2 (bass drum) on rows 0 and 8 of 16, instruments 1 (bass) and 4 every 4 rows"),
    Track("solarwolf-arg", "solarwolf", "usr/share/games/solarwolf/data/music/arg.xm", 8,
          "argggggg", "unknown (SolarWolf's music)", "LGPL-2.1 (solarwolf)",
          "rave techno", "speed 3, tempo 128; 'hardravebase' (bass drum) on rows 0 and 8 of 16, 'ophi house standard' (hi-hat) on 4 and 12"),
    Track("pachi-amazonas", "pachi-data", "usr/share/pachi/music/stage2.stm", 4,
          "Amazonas", "Skaven / Future Crew (Peter Hajba), 1991", "GPL-2+ (pachi-data)",
          "techno", "speed 6, tempo 125; 'BassDrum 6' on rows 0 and 8, 'Znare' on 4 and 12 of 16"),
    Track("penguin-command-data-jack", "penguin-command", "usr/share/games/penguin-command/sound/datajack.s3m", 8,
          "Data Jack", "Skaven / Future Crew (Peter Hajba), 1994", "GPL-2+ (penguin-command)",
          "hard techno", "speed 3, tempo 133; 'BassDrum.rave' on rows 0 and 8 (often 12) of 16, 'HardTech.HiHatop' mostly on 4 and 12"),
    Track("bomberclone-slice-me-nice", "bomberclone-data", "usr/share/games/bomberclone/music/slice_me_nice.xm", 4,
          "Slice Me Nice", "dOc.K, 2003", "GPL-2 (bomberclone-data)",
          "electro", "speed 6, tempo 121; instrument 3 (bass drum) on rows 0, 4, 8 and 12, instrument 1 on 4 and 12 of 16, bass off-beat"),
    Track("njam-ritam", "njam-data", "usr/share/games/njam/data/ritam.s3m", 4,
          "ritam", "unknown (Njam's music)", "GPL-2+ (njam-data)",
          "techno", "speed 6, tempo 125; 'drum.001' (bass drum) on rows 4, 6 and 12, 'drum.010' on 0, 'tranzhihat' on 2, 8, 10 and 14 of 16"),
    Track("njam-satisfy", "njam-data", "usr/share/games/njam/data/satisfy.xm", 4,
          "satisfy", "Tyela, 1999 (song and vocals)", "GPL-2+ (njam-data)",
          "dance (vocal)", "speed 6, tempo 125; instrument 4 (bass drum) mostly on row 0, instrument 3 on rows 0, 6, 8 and 12 of 16"),
    Track("madbomber-bizarre-jungle", "madbomber-data", "usr/share/games/madbomber/music/bizjung.it", 4,
          "BiZARRE JuNGLE", "Tricoder of Project-X, 1997", "GPL-2 (madbomber-data)",
          "techno (four-on-the-floor, off-beat bass)",
          "speed 6, tempo 125; instrument 36 (bass drum) on rows 0, 4, 8 and 12 of 16, instrument 38 (bass) on 2, 6, 10 and 14"),
    Track("tecnoballz-area3", "tecnoballz-data", "usr/share/games/tecnoballz/musics/area3-game.mod", 4,
          "area3-game", "Regis Parret ('music from reg') / TLK Games", "GPL-3+ (tecnoballz-data)",
          "game techno (4-channel)", "speed 6, tempo 125; sample 3 (bass drum) on rows 0, 6 and 8, sample 5 on 4 and 12 of 16"),
    # Added for the downbeat benchmark: non-house game grooves with syncopated kicks and swing.
    Track("circuslinux-klovninarki", "circuslinux-data", "usr/share/games/circuslinux/data/music/klovninarki.mod", 4,
          "klovninarki", "unknown (Circus Linux! music)", "GPL (circuslinux-data)",
          "game techno (syncopated kick)", "speed 6, tempo 125; sample 3 (bass drum) on rows 0, 4, 8 and 12 of 16, often also 6 and 11"),
    # ---- held out: never looked at while tuning mvgen's beats or downbeats (see README)
    Track("rili-jeu1", "ri-li-data", "usr/share/games/ri-li/Ri-li/Sounds/jeu1.xm", 8,
          "jeu1", "Ri-li authors (Dominique Roux-Serret, Maf464)", "GPL-2 or GPL-3 (ri-li-data)",
          "game dance (swung 16ths)", "tempo 135, speed alternating 2/4 (swing); instrument 9 (bass drum) on rows 0, 8, 16 and 24 of 32",
          split="held_out", swing=True),
    Track("rili-jeu2", "ri-li-data", "usr/share/games/ri-li/Ri-li/Sounds/jeu2.xm", 16,
          "jeu2", "Ri-li authors (Dominique Roux-Serret, Maf464)", "GPL-2 or GPL-3 (ri-li-data)",
          "chiptune game pop (swung)", "tempo 108, speed alternating 1/2 (swing); instrument 4 (bass drum) on rows 0, 16, 32 and 48 of 64",
          split="held_out", swing=True),
]


# ---------------------------------------------------------------------------------------------
# fetching


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise RealMusicError(f"real_music: '{cmd[0]}' is not installed; this script needs Debian's apt and dpkg ({exc})") from exc


def download_deb(package: str, deb_dir: Path) -> Path:
    """The path of ``package``'s .deb in ``deb_dir``, downloaded there with ``apt-get download`` unless already present."""
    found = sorted(deb_dir.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    deb_dir.mkdir(parents=True, exist_ok=True)
    proc = _run(["apt-get", "download", package], cwd=deb_dir)
    found = sorted(deb_dir.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not found:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RealMusicError(
            f"real_music: could not download the Debian package '{package}' "
            f"({err[-1] if err else 'apt-get download failed'}).\n"
            "  Is Debian's package registry reachable? Run 'apt-get update' once, then try again."
        )
    return found[-1]


def extract_members(deb: Path, members: list[str], out_dir: Path) -> None:
    """Take the given files (and the package's copyright file) out of a .deb, with dpkg-deb."""
    proc = _run(["dpkg-deb", "--fsys-tarfile", str(deb)])
    if proc.returncode != 0:
        raise RealMusicError(f"real_music: dpkg-deb could not read {deb}: {proc.stderr.decode(errors='replace').strip()}")
    want = {"./" + m.lstrip("./"): Path(m).name for m in members}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for info in tar:
            if info.name in want:
                (out_dir / want[info.name]).write_bytes(tar.extractfile(info).read())
            elif info.name.endswith("/copyright") and "/usr/share/doc/" in info.name and info.isfile():
                (out_dir / "copyright").write_bytes(tar.extractfile(info).read())
    missing = [m for m, name in want.items() if not (out_dir / name).exists()]
    if missing:
        raise RealMusicError(f"real_music: {deb.name} no longer contains {', '.join(missing)}")


def fetch(cache_dir: Path | str, tracks: list[Track] | None = None) -> list[Path]:
    """Download the Debian packages and extract the modules into CACHE/modules/PACKAGE/.

    Idempotent: a module already extracted is not fetched again. Returns the module paths in the
    order of ``tracks`` (default: ``TRACKS``).
    """
    cache = Path(cache_dir).expanduser()
    tracks = TRACKS if tracks is None else tracks
    by_package: dict[str, list[str]] = {}
    for t in tracks:
        by_package.setdefault(t.package, []).append(t.member)
    for package, members in by_package.items():
        out_dir = cache / "modules" / package
        if all((out_dir / Path(m).name).exists() for m in members):
            continue
        deb = download_deb(package, cache / "debs")
        extract_members(deb, members, out_dir)
        deb.unlink()  # the modules and the copyright file are all that is kept
    if (cache / "debs").is_dir() and not any((cache / "debs").iterdir()):
        (cache / "debs").rmdir()
    return [cache / "modules" / t.package / Path(t.member).name for t in tracks]


# ---------------------------------------------------------------------------------------------
# rendering with libopenmpt (ctypes)

_LIB = None


def _libopenmpt():
    global _LIB
    if _LIB is not None:
        return _LIB
    names = [ctypes.util.find_library("openmpt"), "libopenmpt.so.0", "libopenmpt.so", "libopenmpt.dylib", "libopenmpt.dll"]
    lib = None
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        raise RealMusicError("real_music: libopenmpt is not installed; on Debian/Ubuntu run 'apt-get install -y libopenmpt0'")
    vp, i32 = ctypes.c_void_p, ctypes.c_int32
    sig = {
        "openmpt_module_create_from_memory2": (vp, [vp, ctypes.c_size_t, vp, vp, vp, vp, ctypes.POINTER(ctypes.c_int), vp, vp]),
        "openmpt_module_destroy": (None, [vp]),
        "openmpt_module_set_repeat_count": (i32, [vp, i32]),
        "openmpt_module_get_duration_seconds": (ctypes.c_double, [vp]),
        "openmpt_module_read_interleaved_float_stereo": (ctypes.c_size_t, [vp, i32, ctypes.c_size_t, vp]),
        "openmpt_module_get_current_order": (i32, [vp]),
        "openmpt_module_get_current_pattern": (i32, [vp]),
        "openmpt_module_get_current_row": (i32, [vp]),
        "openmpt_module_get_current_speed": (i32, [vp]),
        "openmpt_module_get_current_tempo": (i32, [vp]),
        "openmpt_module_get_metadata": (vp, [vp, ctypes.c_char_p]),
        "openmpt_free_string": (None, [vp]),
        "openmpt_module_get_num_instruments": (i32, [vp]),
        "openmpt_module_get_num_samples": (i32, [vp]),
        "openmpt_module_get_num_channels": (i32, [vp]),
        "openmpt_module_get_num_orders": (i32, [vp]),
        "openmpt_module_get_order_pattern": (i32, [vp, i32]),
        "openmpt_module_get_pattern_num_rows": (i32, [vp, i32]),
        "openmpt_module_get_pattern_row_channel_command": (ctypes.c_uint8, [vp, i32, i32, i32, ctypes.c_int]),
        "openmpt_module_get_instrument_name": (vp, [vp, i32]),
        "openmpt_module_get_sample_name": (vp, [vp, i32]),
        "openmpt_module_ext_create_from_memory": (vp, [vp, ctypes.c_size_t, vp, vp, vp, vp, ctypes.POINTER(ctypes.c_int), vp, vp]),
        "openmpt_module_ext_get_module": (vp, [vp]),
        "openmpt_module_ext_get_interface": (ctypes.c_int, [vp, ctypes.c_char_p, vp, ctypes.c_size_t]),
        "openmpt_module_ext_destroy": (None, [vp]),
    }
    for fname, (res, args) in sig.items():
        f = getattr(lib, fname)
        f.restype, f.argtypes = res, args
    _LIB = lib
    return lib


def _metadata(lib, mod, key: str) -> str:
    p = lib.openmpt_module_get_metadata(mod, key.encode())
    if not p:
        return ""
    try:
        return ctypes.string_at(p).decode("utf-8", "replace").strip()
    finally:
        lib.openmpt_free_string(p)


def render_rows(module_path: Path | str, sr: int = 44100, max_s: float | None = None, block: int = 16):
    """Render a module; return (stereo float32 audio, row log, metadata).

    The row log has one entry per row played: (start sample, order, pattern, row, speed, tempo).
    libopenmpt advances to a new row when it starts rendering that row's first tick, inside the
    read call during which the row number changes, so the row starts within that block of
    ``block`` frames; its middle is taken (error at most block/2 frames, 0.18 ms at 44.1 kHz).
    """
    lib = _libopenmpt()
    data = Path(module_path).read_bytes()
    buf = ctypes.create_string_buffer(data, len(data))
    err = ctypes.c_int(0)
    mod = lib.openmpt_module_create_from_memory2(buf, len(data), None, None, None, None, ctypes.byref(err), None, None)
    if not mod:
        raise ValueError(f"libopenmpt cannot load {module_path} (error {err.value})")
    try:
        lib.openmpt_module_set_repeat_count(mod, 0)
        duration = lib.openmpt_module_get_duration_seconds(mod)
        total = int(round(min(duration, max_s or duration) * sr))
        audio = np.zeros((total + block, 2), np.float32)
        base = audio.ctypes.data
        rows, last, n = [], None, 0
        while n < total:
            k = lib.openmpt_module_read_interleaved_float_stereo(mod, sr, block, base + n * 8)
            if k == 0:
                break
            pos = (lib.openmpt_module_get_current_order(mod), lib.openmpt_module_get_current_row(mod))
            if pos != last:
                rows.append((n + (k - 1) / 2.0, pos[0], lib.openmpt_module_get_current_pattern(mod), pos[1],
                             lib.openmpt_module_get_current_speed(mod), lib.openmpt_module_get_current_tempo(mod)))
                last = pos
            n += k
        meta = {key: _metadata(lib, mod, key) for key in ("type", "title", "artist", "tracker")}
    finally:
        lib.openmpt_module_destroy(mod)
    return audio[: min(n, total)], np.array(rows, dtype=np.float64).reshape(-1, 6), meta


def default_rows_per_beat(speed: int, tempo: int) -> int:
    """Rows per beat that put the tracker tempo in the dance range (88-180 bpm): 8 at speed 3, 4 at 5-6."""
    for rpb in (4, 8, 2, 16):
        if 88.0 <= 60.0 / (rpb * speed * 2.5 / tempo) < 180.0:
            return rpb
    return 4


def render_with_beats(module_path: Path | str, out_wav: Path | str, sr: int = 44100, rows_per_beat: int | None = None,
                      max_s: float | None = 120.0, beats_per_bar: int = 4, extra: dict | None = None, swing: bool = False) -> dict:
    """Render ``module_path`` to ``out_wav`` and write the reference next to it as ``NAME.beats.json``.

    Beats are the starts of the rows whose number within their pattern is a multiple of
    ``rows_per_beat`` (default: ``default_rows_per_beat``); downbeats those that are a multiple of
    ``rows_per_beat * beats_per_bar`` (left empty when they are not evenly spaced bars).
    Only the first ``max_s`` seconds are rendered. Raises ``ValueError`` when the tempo changes
    inside the excerpt, the speed changes other than by a swing (``swing``: speeds that alternate
    row by row, so every beat still spans the same number of ticks), or the beats are not evenly
    spaced (then the module has no single tempo and is no fair reference). Needs libopenmpt (``apt-get install -y libopenmpt0``).
    Returns the reference dict (also written as JSON): ``tempo_bpm``, ``beats_s``, ``downbeats_s``,
    ``duration_s`` and details.
    """
    import soundfile as sf

    audio, rows, meta = render_rows(module_path, sr=sr, max_s=max_s)
    if len(rows) < 32:
        raise ValueError(f"{module_path}: too few rows rendered")
    speeds_tempos = sorted({(int(s), int(t)) for s, t in rows[:, 4:6]})
    if len(speeds_tempos) != 1 and not (swing and len({t for _, t in speeds_tempos}) == 1):
        raise ValueError(f"{module_path}: speed/tempo change inside the excerpt: {speeds_tempos}")
    speed, tempo = speeds_tempos[0]
    if rows_per_beat is None:
        rows_per_beat = default_rows_per_beat(speed, tempo)
    row_no = rows[:, 3].astype(int)
    beat_rows = rows[row_no % rows_per_beat == 0]
    beats = beat_rows[:, 0] / sr
    bar_rows = rows[row_no % (rows_per_beat * beats_per_bar) == 0]
    downbeats = bar_rows[:, 0] / sr
    ibi = np.diff(beats)
    period = float(np.median(ibi))
    jitter = float(np.max(np.abs(ibi - period)))
    if jitter > 0.002 + 0.001 * period:  # more than block granularity: a pattern break or delay moved the grid
        raise ValueError(f"{module_path}: beats not evenly spaced (median {period:.4f} s, worst deviation {jitter * 1000:.1f} ms)")
    if len(downbeats) > 1 and np.max(np.abs(np.diff(downbeats) - beats_per_bar * period)) > 0.002 + 0.001 * period:
        downbeats = np.array([])  # patterns that are not whole bars: no trustworthy bar grid
    # the tracker's own tempo: rows last speed * 2.5 / tempo seconds (with a swing: the mean speed)
    mean_speed = float(np.mean(rows[:, 4])) if swing else speed
    nominal_bpm = 60.0 / (rows_per_beat * mean_speed * 2.5 / tempo)

    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    gain = 0.89 / peak if peak > 0 else 1.0  # -1 dBFS peak, so 16-bit PCM does not clip
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_wav), audio * gain, sr, subtype="PCM_16")

    ref = {
        "tempo_bpm": round(60.0 / float(np.polyfit(np.arange(len(beats)), beats, 1)[0]), 4),
        "beats_s": [round(float(b), 5) for b in beats],
        "downbeats_s": [round(float(b), 5) for b in downbeats],
        "duration_s": round(len(audio) / sr, 4),
        "sr": sr,
        "module": Path(module_path).name,
        "module_title": meta.get("title", ""),
        "module_type": meta.get("type", ""),
        "tracker": meta.get("tracker", ""),
        "speed": speed if len(speeds_tempos) == 1 else sorted({s for s, _ in speeds_tempos}),
        "tempo": tempo,
        "rows_per_beat": rows_per_beat,
        "nominal_bpm": round(nominal_bpm, 4),
        "max_beat_jitter_ms": round(jitter * 1000, 3),
        "gain": round(gain, 4),
        "method": "libopenmpt row starts (16-frame blocks), beat = every rows_per_beat-th row of a pattern",
    }
    if extra:
        ref.update(extra)
    beats_path = out_wav.with_name(out_wav.stem + ".beats.json")
    beats_path.write_text(json.dumps(ref, indent=1))
    return ref


# ---------------------------------------------------------------------------------------------
# checking a reference against the audio


def onset_at(env: np.ndarray, times_s, sr: int, hop: int) -> float:
    """Mean onset strength of ``env`` (frames of ``hop`` samples at ``sr``) at ``times_s``: the max
    over -6 ms .. +29 ms of each time, since the envelope peaks a frame or two after an attack
    (nan when no time falls inside the envelope)."""
    frames = np.round(np.asarray(times_s, float) * sr / hop).astype(int)
    frames = frames[(frames >= 1) & (frames < len(env) - 6)]
    return float(np.mean([env[f - 1 : f + 6].max() for f in frames])) if len(frames) else float("nan")


def onset_contrast(wav: Path | str, beats_s, sr: int = 22050) -> dict:
    """How much more onset strength the reference beats have than the same grid half a beat later.

    ``half_ratio``: mean of librosa's onset strength at the beats / at beats + half a beat, on the
    full band; ``half_ratio_low``: the same on the band below 200 Hz (bass drum). A grid on the
    music's beats gives clearly more than 1 on at least one of them; a grid half a beat off gives
    less than 1. The envelope uses 23 ms frames (n_fft 512, hop 128): with librosa's default
    93 ms frames drum onsets peak 20-35 ms late, which blurs rows 50 ms apart.
    """
    import librosa

    y, sr = librosa.load(str(wav), sr=sr, mono=True)
    hop = 128
    full = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=512)
    low = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=512, fmax=200.0, n_mels=12)
    beats = np.asarray(beats_s, float)
    period = float(np.median(np.diff(beats)))

    return {
        "half_ratio": onset_at(full, beats, sr, hop) / onset_at(full, beats + period / 2, sr, hop),
        "half_ratio_low": onset_at(low, beats, sr, hop) / onset_at(low, beats + period / 2, sr, hop),
        "quarter_ratio": onset_at(full, beats, sr, hop) / onset_at(full, beats + period / 4, sr, hop),
    }


_F = ctypes.CFUNCTYPE
_VP, _I32, _INT, _DBL = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int, ctypes.c_double


class _Interactive(ctypes.Structure):
    """libopenmpt_ext's "interactive" interface (libopenmpt_ext.h, since 0.3), in its field order."""

    _fields_ = [
        ("set_current_speed", _F(_INT, _VP, _I32)), ("set_current_tempo", _F(_INT, _VP, _I32)),
        ("set_tempo_factor", _F(_INT, _VP, _DBL)), ("get_tempo_factor", _F(_DBL, _VP)),
        ("set_pitch_factor", _F(_INT, _VP, _DBL)), ("get_pitch_factor", _F(_DBL, _VP)),
        ("set_global_volume", _F(_INT, _VP, _DBL)), ("get_global_volume", _F(_DBL, _VP)),
        ("set_channel_volume", _F(_INT, _VP, _I32, _DBL)), ("get_channel_volume", _F(_DBL, _VP, _I32)),
        ("set_channel_mute_status", _F(_INT, _VP, _I32, _INT)), ("get_channel_mute_status", _F(_INT, _VP, _I32)),
        ("set_instrument_mute_status", _F(_INT, _VP, _I32, _INT)), ("get_instrument_mute_status", _F(_INT, _VP, _I32)),
        ("play_note", _F(_I32, _VP, _I32, _I32, _DBL, _DBL)), ("stop_note", _F(_INT, _VP, _I32)),
    ]


def _instrument_notes(module_path: Path | str) -> tuple[list[str], dict[int, list[int]]]:
    """Names of the instruments (or samples) and, per instrument number, the pitches it is played at."""
    names, events = _note_events(module_path)
    notes: dict[int, list[int]] = {}
    for _, instrument, note in events:
        notes.setdefault(instrument, []).append(note)
    return names, notes


def _note_events(module_path: Path | str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Names of the instruments (or samples) and every note in order-list order: (row in its pattern, instrument, pitch)."""
    lib = _libopenmpt()
    data = Path(module_path).read_bytes()
    buf = ctypes.create_string_buffer(data, len(data))
    mod = lib.openmpt_module_create_from_memory2(buf, len(data), None, None, None, None, None, None, None)
    try:
        n_ins = lib.openmpt_module_get_num_instruments(mod)
        getter = lib.openmpt_module_get_instrument_name if n_ins else lib.openmpt_module_get_sample_name
        count = n_ins or lib.openmpt_module_get_num_samples(mod)
        names = []
        for i in range(count):
            p = getter(mod, i)
            names.append(ctypes.string_at(p).decode("utf-8", "replace").replace("\xa0", " ").strip() if p else "")
            if p:
                lib.openmpt_free_string(p)
        n_ch = lib.openmpt_module_get_num_channels(mod)
        last = [0] * n_ch
        events: list[tuple[int, int, int]] = []
        cmd = lib.openmpt_module_get_pattern_row_channel_command
        for order in range(lib.openmpt_module_get_num_orders(mod)):
            pat = lib.openmpt_module_get_order_pattern(mod, order)
            for row in range(max(0, lib.openmpt_module_get_pattern_num_rows(mod, pat))):
                for ch in range(n_ch):
                    note, ins = cmd(mod, pat, row, ch, 0), cmd(mod, pat, row, ch, 1)
                    if ins:
                        last[ch] = ins
                    if 0 < note <= 120 and last[ch]:
                        events.append((row, last[ch], note))
    finally:
        lib.openmpt_module_destroy(mod)
    return names, events


def bar_check(module_path: Path | str, rows_per_beat: int, beats_per_bar: int = 4) -> dict:
    """Where in the bar the module's melodic parts change pitch, to check that patterns start on bars.

    The reference downbeats are the first rows of bars counted from each pattern's row 0. For
    every instrument that plays at least 5 pitches (bass, chords, leads: not drums), the new
    pitches (a note differing from that instrument's previous one) are counted by beat of the
    bar. ``changes_by_beat``: their counts on beats 1..``beats_per_bar``; ``first_beat_share``:
    the share on beat 1 (1 / beats_per_bar would be no preference); ``instruments_on_one``: how many of the instruments change pitch most often on
    beat 1, of ``instruments``. A pattern grid shifted against the music's bars shows as a
    preference for another beat.
    """
    _, events = _note_events(module_path)
    previous: dict[int, int] = {}
    by_instrument: dict[int, np.ndarray] = {}
    pitches: dict[int, set] = {}
    for row, instrument, note in events:
        pitches.setdefault(instrument, set()).add(note)
        if previous.get(instrument) != note:
            counts = by_instrument.setdefault(instrument, np.zeros(beats_per_bar))
            counts[(row // rows_per_beat) % beats_per_bar] += 1
        previous[instrument] = note
    melodic = [counts for instrument, counts in by_instrument.items() if len(pitches[instrument]) >= 5 and counts.sum() >= 8]
    if not melodic:
        return {"instruments": 0, "instruments_on_one": 0, "changes_by_beat": [], "first_beat_share": float("nan")}
    total = np.sum(melodic, axis=0)
    return {"instruments": len(melodic), "changes_by_beat": [int(c) for c in total], "instruments_on_one": int(sum(int(np.argmax(c) == 0) for c in melodic)),
            "first_beat_share": round(float(total[0] / total.sum()), 3)}


def render_stem(module_path: Path | str, index: int, sr: int = 22050, max_s: float = 60.0) -> np.ndarray:
    """Mono render with every instrument (or sample, for modules without instruments) muted but one (0-based)."""
    lib = _libopenmpt()
    data = Path(module_path).read_bytes()
    buf = ctypes.create_string_buffer(data, len(data))
    ext = lib.openmpt_module_ext_create_from_memory(buf, len(data), None, None, None, None, None, None, None)
    if not ext:
        raise ValueError(f"libopenmpt_ext cannot load {module_path}")
    try:
        mod = lib.openmpt_module_ext_get_module(ext)
        ia = _Interactive()
        if not lib.openmpt_module_ext_get_interface(ext, b"interactive", ctypes.byref(ia), ctypes.sizeof(ia)):
            raise RuntimeError("this libopenmpt has no 'interactive' extension interface")
        count = lib.openmpt_module_get_num_instruments(mod) or lib.openmpt_module_get_num_samples(mod)
        for i in range(count):
            ia.set_instrument_mute_status(ext, i, 0 if i == index else 1)
        lib.openmpt_module_set_repeat_count(mod, 0)
        out = np.zeros((int(sr * max_s), 2), np.float32)
        k = lib.openmpt_module_read_interleaved_float_stereo(mod, sr, len(out), out.ctypes.data)
    finally:
        lib.openmpt_module_ext_destroy(ext)
    return out[:k].mean(axis=1)


def kick_check(module_path: Path | str, beats_s, sr: int = 22050, max_s: float = 60.0) -> dict:
    """Find the bass drum among the module's instruments and measure whether it hits on the beats.

    Bass-drum candidates are the instruments played at no more than 4 pitches (a bass line has
    more) whose solo render has at least half its energy below 150 Hz; one named like a bass
    drum ('bd', 'kick', 'bassdrum') wins, else the one with the fewest pitches, then the most
    notes. ``ratio``: its onset strength at the reference beats / half a beat
    later (large for a kick on the beat, below 1 for a kick on the off-beat).
    """
    import re

    import librosa

    names, notes = _instrument_notes(module_path)
    beats = np.asarray(beats_s, float)
    beats = beats[beats < max_s - 0.5]
    period = float(np.median(np.diff(beats)))
    hop = 128
    candidates = []
    for number, pitches in notes.items():
        if len(set(pitches)) > 4 or len(pitches) < 16:
            continue
        y = render_stem(module_path, number - 1, sr=sr, max_s=max_s)
        if not len(y) or float(np.sqrt(np.mean(y ** 2))) < 1e-4:
            continue
        spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
        low = float(spec[librosa.fft_frequencies(sr=sr, n_fft=2048) < 150].sum() / max(spec.sum(), 1e-12))
        if low < 0.5:
            continue
        env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=512)

        on, off = onset_at(env, beats, sr, hop), onset_at(env, beats + period / 2, sr, hop)
        name = names[number - 1] if number - 1 < len(names) else ""
        named = bool(re.search(r"(?<![a-z])(bass ?drum|kick|bd(?![a-z]))", name, re.IGNORECASE))
        candidates.append(((not named, len(set(pitches)), -len(pitches)), {
            "instrument": number, "name": name, "pitches": len(set(pitches)), "low_fraction": round(low, 3),
            "ratio": round(on / max(off, 1e-3 * on, 1e-12), 2)}))
    if not candidates:
        return {"instrument": None, "name": "", "pitches": 0, "low_fraction": 0.0, "ratio": float("nan")}
    return min(candidates, key=lambda c: c[0])[1]


# ---------------------------------------------------------------------------------------------


def build(cache_dir: Path | str, tracks: list[Track] | None = None, check: bool = True) -> list[dict]:
    cache = Path(cache_dir).expanduser()
    tracks = TRACKS if tracks is None else tracks
    modules = fetch(cache, tracks)
    results = []
    for t, module in zip(tracks, modules):
        wav = cache / "tracks" / f"{t.name}.wav"
        json_path = wav.with_name(wav.stem + ".beats.json")
        t0 = time.perf_counter()
        if wav.exists() and json_path.exists():
            ref = json.loads(json_path.read_text())
            ref["split"] = t.split  # the split may have been set after the track was rendered
            json_path.write_text(json.dumps(ref, indent=1))
            note = "cached"
        else:
            extra = {"name": t.name, "title": t.title, "author": t.author, "licence": t.licence, "style": t.style,
                     "debian_package": t.package, "package_path": "/" + t.member, "beat_level_evidence": t.evidence,
                     "split": t.split}
            ref = render_with_beats(module, wav, rows_per_beat=t.rows_per_beat, max_s=t.max_s, extra=extra, swing=t.swing)
            note = f"rendered in {time.perf_counter() - t0:.1f} s"
        line = f"{t.name:28s} {ref['tempo_bpm']:7.2f} bpm  {len(ref['beats_s']):4d} beats  {ref['duration_s']:6.1f} s  ({t.style}; {t.package}, {t.licence}; {note})"
        if check:
            c = onset_contrast(wav, ref["beats_s"])
            k = kick_check(module, ref["beats_s"])
            # the bass drum alone decides; without one found, the mix must favour the beats
            ok = k["ratio"] >= 2.0 if k["instrument"] else max(c["half_ratio"], c["half_ratio_low"]) >= 1.1
            ref["check"] = {**c, "bass_drum": k, "ok": ok, "bars": bar_check(module, t.rows_per_beat)}
            json_path.write_text(json.dumps(ref, indent=1))
            line += (f"\n{'':28s} onset strength at the beats / half a beat later: {c['half_ratio']:.2f} full band, "
                     f"{c['half_ratio_low']:.2f} below 200 Hz, {k['ratio']:.2f} bass drum alone "
                     f"(instrument {k['instrument']} {k['name']!r}){'' if ok else '  << WEAK: check this reference'}")
        print(line, flush=True)
        results.append(ref)
    # bench_analysis.py reads every *.beats.json here: drop tracks that left the list
    if tracks is TRACKS:
        remove_stale(cache / "tracks", ".beats.json", {t.name for t in tracks})
    return results


def remove_stale(folder: Path, suffix: str, names: set[str]) -> None:
    """Delete ``NAME{suffix}`` and ``NAME.wav`` in ``folder`` for every NAME not in ``names`` (tracks dropped from a list)."""
    for stale in sorted(folder.glob(f"*{suffix}")):
        stem = stale.name[: -len(suffix)]
        if stem not in names:
            stale.unlink()
            (folder / f"{stem}.wav").unlink(missing_ok=True)
            print(f"removed {stem} (no longer in TRACKS)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder for the packages, modules and rendered tracks")
    parser.add_argument("--no-check", action="store_true", help="skip the onset-strength check (needs librosa)")
    parser.add_argument("--force", action="store_true", help="render the tracks again even if they are in the cache")
    args = parser.parse_args(argv)
    cache = args.cache.expanduser()
    if args.force and (cache / "tracks").is_dir():
        shutil.rmtree(cache / "tracks")
    t0 = time.perf_counter()
    try:
        refs = build(cache, check=not args.no_check)
    except RealMusicError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{len(refs)} tracks with reference beats in {cache / 'tracks'} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
