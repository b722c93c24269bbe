"""Real music that is *not* house/EDM, for the sub-genre classifier's out-of-scope ("none of these") outcome.

Where the music comes from
    Human-made game music shipped in free packages of Debian main (bookworm): cinematic and
    ambient game scores, blues, tracker-made chiptune and game pop, a march. ``fetch`` downloads
    the ``.deb`` files with ``apt-get download`` (argument lists, no shell), takes the listed files
    out with ``dpkg-deb`` and keeps each package's copyright file beside them in
    ``CACHE/negatives/sources/PACKAGE/``. mvgen generated none of it. Licences are in ``TRACKS``.

How the tracks were chosen (by analysis: nobody listened)
    Every music file of about 30 candidate packages was decoded and measured: duration, tempo
    (``librosa.beat.beat_track``), spectral centroid and a four-on-the-floor score (``describe``):
    the autocorrelation of the onset envelope below 150 Hz (the bass drum) at one beat period,
    searched between 118 and 135 bpm, beside the same at half a beat. A kick on every beat at a
    house tempo gives a high value at one beat and a lower one at half a beat. Files with a high
    score there (above about 0.45) were left out even when the package says nothing about dance
    music: they are plausibly house/techno/trance and would poison a negative set. So were
    very short loops, and the dance tracker modules already used by ``real_music.py``. Style tags
    come from the package, titles, authors and these features; they are rough.

Splits
    ``split`` is "train" or "held_out"; a package is only ever on one side, so a model trained on
    the "train" tracks is judged on music from sources (composers, games) it has not heard.

What must be installed
    Debian/Ubuntu apt and dpkg (``apt-get download``, ``dpkg-deb``), ffmpeg (ogg, mp3, wav, WavPack)
    and libopenmpt0 (tracker modules, rendered with ``real_music.render_rows``), plus numpy,
    soundfile and librosa from the project's virtualenv.

Run once (a few minutes: about 200 MB of packages):

    python benchmarks/real_negatives.py --cache ~/.cache/mvgen-bench

Output: ``CACHE/negatives/NAME.wav`` (22.05 kHz stereo, 16 bit; at most 90 s, from 10 s into the
piece, or from its start when it is shorter than 40 s) and ``CACHE/negatives/NAME.json`` (where
it came from, licence, style, split, excerpt bounds and the ``describe`` figures).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_music import RealMusicError, download_deb, extract_members, remove_stale, render_rows  # noqa: E402

TRACKER_SUFFIXES = (".xm", ".it", ".s3m", ".mod", ".stm")
EXCERPT_START_S = 10.0
EXCERPT_MAX_S = 90.0
SR = 22050


@dataclass(frozen=True)
class Track:
    name: str  # file stem in CACHE/negatives
    package: str  # Debian package (main, bookworm) that ships the file
    member: str  # path of the file inside the package
    title: str
    author: str
    licence: str  # as the package's copyright file gives it
    style: str  # rough style tag
    split: str  # "train" or "held_out"; never the same package on both sides


_HR = "usr/share/hyperrogue/music/"
_PINGUS = "usr/share/games/pingus/data/music/"
_LC = "usr/share/games/lincity-ng/music/default/"
_FB = "usr/share/games/frozen-bubble/snd/"

TRACKS: list[Track] = [
    # ---- held out: four packages the training side never sees
    Track("lincity-city-blues", "lincity-ng-data", _LC + "02 - Robert van Herk - City Blues.ogg",
          "City Blues", "Robert van Herk", "GPL-2+ (lincity-ng-data)", "blues/jazz", "held_out"),
    Track("lincity-architectural", "lincity-ng-data", _LC + "03 - Robert van Herk - Architectural Contemplations.ogg",
          "Architectural Contemplations", "Robert van Herk", "GPL-2+ (lincity-ng-data)", "ambient", "held_out"),
    Track("lincity-pronobozo", "lincity-ng-data", _LC + "01 - pronobozo - lincity.ogg",
          "lincity", "pronobozo", "GPL-2+ (lincity-ng-data)", "electronica (no four-on-the-floor)", "held_out"),
    Track("asc-frontiers", "asc-music", "usr/share/games/asc/music/frontiers.mp3",
          "Frontiers", "Michael Kievernagel", "GPL-2+ (asc-music)", "cinematic game score", "held_out"),
    Track("asc-time-to-strike", "asc-music", "usr/share/games/asc/music/time_to_strike.mp3",
          "Time to Strike", "Michael Kievernagel", "GPL-2+ (asc-music)", "cinematic game score", "held_out"),
    Track("frozen-bubble-intro", "frozen-bubble-data", _FB + "introzik.ogg",
          "introzik", "The Frozen-Bubble Team (Matthias Le Bidan)", "GPL-2 (frozen-bubble-data)", "game pop", "held_out"),
    Track("frozen-bubble-main-1p", "frozen-bubble-data", _FB + "frozen-mainzik-1p.ogg",
          "frozen-mainzik-1p", "The Frozen-Bubble Team (Matthias Le Bidan)", "GPL-2 (frozen-bubble-data)", "chiptune/game pop (tracker-made)", "held_out"),
    Track("frozen-bubble-main-2p", "frozen-bubble-data", _FB + "frozen-mainzik-2p.ogg",
          "frozen-mainzik-2p", "The Frozen-Bubble Team (Matthias Le Bidan)", "GPL-2 (frozen-bubble-data)", "chiptune/game pop (tracker-made)", "held_out"),
    Track("funnyboat-trip", "funnyboat", "usr/share/games/funnyboat/data/JDruid-Trip_on_the_Funny_Boat.ogg",
          "Trip on the Funny Boat", "JDruid", "Expat (funnyboat, *.ogg)", "game pop", "held_out"),
    # ---- train
    Track("hyperrogue-graveyard", "hyperrogue-music", _HR + "hr3-graveyard.ogg",
          "Graveyard", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "cinematic game score", "train"),
    Track("hyperrogue-rlyeh", "hyperrogue-music", _HR + "hr3-rlyeh.ogg",
          "R'Lyeh", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "dark ambient", "train"),
    Track("hyperrogue-laboratory", "hyperrogue-music", _HR + "hr3-laboratory.ogg",
          "Laboratory", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "cinematic game score", "train"),
    Track("hyperrogue-motion", "hyperrogue-music", _HR + "hr3-motion.ogg",
          "Motion", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "cinematic game score", "train"),
    Track("hyperrogue-hell", "hyperrogue-music", _HR + "hr3-hell.ogg",
          "Hell", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "cinematic game score", "train"),
    Track("hyperrogue-jungle", "hyperrogue-music", _HR + "hr3-jungle.ogg",
          "Jungle", "Shawn Parrotte", "CC-BY-SA-3.0 (hyperrogue-music)", "ambient", "train"),
    Track("hyperrogue-palace", "hyperrogue-music", _HR + "hr-savino-palace.ogg",
          "Palace", "Will Savino", "CC-BY-SA-3.0 (hyperrogue-music)", "orchestral", "train"),
    Track("hyperrogue-mountain", "hyperrogue-music", _HR + "hr-domina-mountain.ogg",
          "Mountain", "Lincoln Domina", "CC-BY-SA-3.0 (hyperrogue-music)", "ambient", "train"),
    Track("pingus-goin-march", "pingus-data", _PINGUS + "goin_march.it",
          "Goin' march", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "march (tracker)", "train"),
    Track("pingus-3", "pingus-data", _PINGUS + "pingus-3.it",
          "pingus-3", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "chiptune/tracker game music", "train"),
    Track("pingus-5", "pingus-data", _PINGUS + "pingus-5.it",
          "pingus-5", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "chiptune/tracker game music", "train"),
    Track("pingus-6", "pingus-data", _PINGUS + "pingus-6.it",
          "pingus-6", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "chiptune/tracker game music", "train"),
    Track("pingus-giirm", "pingus-data", _PINGUS + "gd-giirm.s3m",
          "gd-giirm", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "chiptune/tracker game music", "train"),
    Track("pingus-rough-journey", "pingus-data", _PINGUS + "rough_journey.it",
          "Rough Journey", "unknown (Pingus music)", "GPL-2+ (pingus-data)", "chiptune/tracker game music (fast)", "train"),
    Track("tuxmath-beyond-the-horizon", "tuxmath-data", "usr/share/tuxmath/sounds/game.mod",
          "Beyond The Horizon", "Mystra of Stone Arts, 1994", "public domain (tuxmath-data)", "chiptune/tracker (demoscene)", "train"),
    Track("tuxmath-soft-brilliance", "tuxmath-data", "usr/share/tuxmath/sounds/game3.mod",
          "Soft Brilliance", "Tjoppbass, 1994", "public domain (tuxmath-data)", "chiptune/tracker (demoscene)", "train"),
    Track("tuxmath-edge-of-the-universe", "tuxmath-data", "usr/share/tuxmath/sounds/02_on_the_edge_of_the_universe.ogg",
          "On the Edge of the Universe", "Synthaurion, 2010", "CC-BY-SA-3.0 (tuxmath-data)", "cinematic", "train"),
    Track("circuslinux-kaupunki", "circuslinux-data", "usr/share/games/circuslinux/data/music/kaupunki.mod",
          "kaupunki", "unknown (Circus Linux! music)", "GPL (circuslinux-data)", "chiptune/tracker game music", "train"),
    Track("circuslinux-finally", "circuslinux-data", "usr/share/games/circuslinux/data/music/finally.mod",
          "finally", "unknown (Circus Linux! music)", "GPL (circuslinux-data)", "chiptune/tracker game music (fast)", "train"),
    Track("rili-jeu2", "ri-li-data", "usr/share/games/ri-li/Ri-li/Sounds/jeu2.xm",
          "jeu2", "Ri-li authors (Dominique Roux-Serret, Maf464)", "GPL-2 or GPL-3 (ri-li-data)", "chiptune/tracker game music", "train"),
    Track("abe-intro", "abe-data", "usr/share/games/abe/sounds/intro.ogg",
          "intro", "Abe's Amazing Adventure authors", "GPL-2+ (abe-data)", "cinematic game score", "train"),
    Track("pathological-intro", "pathological", "usr/share/games/pathological/music/intro.ogg",
          "intro", "Pathological authors (John-Paul Gignac)", "GPL-2+ (pathological)", "game music (slow, no kick)", "train"),
    Track("holotz-main-title", "holotz-castle-data", "usr/share/games/holotz-castle/game/sound/HCMainTitle.wav",
          "Main Title", "Holotz's Castle authors", "GPL-2+ (holotz-castle-data)", "game theme (medieval)", "train"),
    Track("holotz-credits-slow", "holotz-castle-data", "usr/share/games/holotz-castle/game/sound/HCCredits_Slow.wav",
          "Credits (slow)", "Holotz's Castle authors", "GPL-2+ (holotz-castle-data)", "game theme (slow)", "train"),
    Track("pangzero-theme", "pangzero", "usr/share/perl5/auto/share/dist/Games-PangZero/UPiPang.mp3",
          "UPiPang", "SAdam", "GPL-2+ (pangzero)", "chiptune/game pop", "train"),
]


def check_splits(tracks: list[Track]) -> None:
    """Raise ValueError when a package is on both sides, a split is unknown or held_out has < 3 packages."""
    sides: dict[str, set[str]] = {}
    for t in tracks:
        if t.split not in ("train", "held_out"):
            raise ValueError(f"{t.name}: split must be 'train' or 'held_out', not {t.split!r}")
        sides.setdefault(t.package, set()).add(t.split)
    both = sorted(p for p, s in sides.items() if len(s) > 1)
    if both:
        raise ValueError(f"packages on both sides of the split: {', '.join(both)}")
    if len({t.package for t in tracks if t.split == "held_out"}) < 3:
        raise ValueError("held_out needs at least 3 source packages")


# ---------------------------------------------------------------------------------------------
# fetching and decoding


def fetch(cache_dir: Path | str, tracks: list[Track] | None = None) -> list[Path]:
    """Download the packages and extract the listed files into CACHE/negatives/sources/PACKAGE/.

    Each package's copyright file is kept beside its files. Idempotent: a package whose files are
    all there is not downloaded again; a downloaded .deb is deleted once its files are out.
    Returns the source paths in the order of ``tracks`` (default: ``TRACKS``).
    """
    cache = Path(cache_dir).expanduser()
    tracks = TRACKS if tracks is None else tracks
    src = cache / "negatives" / "sources"
    by_package: dict[str, list[str]] = {}
    for t in tracks:
        by_package.setdefault(t.package, []).append(t.member)
    for package, members in by_package.items():
        out_dir = src / package
        if all((out_dir / Path(m).name).exists() for m in members) and (out_dir / "copyright").exists():
            continue
        deb = download_deb(package, cache / "debs")
        extract_members(deb, members, out_dir)
        deb.unlink()
    if (cache / "debs").is_dir() and not any((cache / "debs").iterdir()):
        (cache / "debs").rmdir()
    return [src / t.package / Path(t.member).name for t in tracks]


def _duration_s(path: Path) -> float:
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                              capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise RealMusicError(f"real_negatives: ffprobe is not installed; on Debian/Ubuntu run 'apt-get install -y ffmpeg' ({exc})") from exc
    try:
        return float(proc.stdout.decode().strip())
    except ValueError:
        raise ValueError(f"ffprobe cannot read the duration of {path}: {proc.stderr.decode(errors='replace').strip()}") from None


def _excerpt_start(duration_s: float) -> float:
    return EXCERPT_START_S if duration_s >= EXCERPT_START_S + 30.0 else 0.0


def decode_excerpt(source: Path | str, out_wav: Path | str) -> dict:
    """Write at most 90 s of ``source`` (from 10 s in; from 0 when shorter than 40 s) to ``out_wav``.

    Tracker modules are rendered with ``real_music.render_rows`` (libopenmpt, no repeats) and
    peak-normalised to -1 dBFS, since the renderer's level is arbitrary; other formats are decoded
    with ffmpeg at their own level. Returns the source duration and the excerpt bounds.
    """
    import soundfile as sf

    source, out_wav = Path(source), Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix.lower() in TRACKER_SUFFIXES:
        audio, _rows, meta = render_rows(source, sr=SR, max_s=600.0)
        duration = len(audio) / SR
        start = _excerpt_start(duration)
        audio = audio[int(start * SR): int((start + EXCERPT_MAX_S) * SR)]
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        sf.write(str(out_wav), audio * (0.89 / peak if peak > 0 else 1.0), SR, subtype="PCM_16")
        return {"source_duration_s": round(duration, 2), "excerpt_start_s": start,
                "excerpt_s": round(len(audio) / SR, 2), "decoder": "libopenmpt", "module_title": meta.get("title", "")}
    duration = _duration_s(source)
    start = _excerpt_start(duration)
    cmd = ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-t", str(EXCERPT_MAX_S), "-i", str(source),
           "-ac", "2", "-ar", str(SR), "-c:a", "pcm_s16le", str(out_wav)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ValueError(f"ffmpeg cannot decode {source}: {proc.stderr.decode(errors='replace').strip()}")
    return {"source_duration_s": round(duration, 2), "excerpt_start_s": start,
            "excerpt_s": round(sf.info(str(out_wav)).duration, 2), "decoder": "ffmpeg"}


# ---------------------------------------------------------------------------------------------
# the figures the tracks were chosen by


def describe(wav: Path | str, sr: int = 22050) -> dict:
    """Tempo, brightness and four-on-the-floor score of a track.

    ``tempo_bpm``: ``librosa.beat.beat_track``. ``centroid_hz``: mean spectral centroid.
    ``kick_beat``: the autocorrelation (normalised, mean removed) of the onset envelope below
    150 Hz at one beat period, the best between 118 and 135 bpm (``kick_bpm``); ``kick_half``: the
    same at half that period. A house kick on every beat gives a high ``kick_beat``, above about 0.45.
    ``four_on_the_floor``: ``kick_beat >= 0.45`` and ``kick_half < kick_beat``: such a track is no
    clean negative.
    """
    import librosa

    y, sr = librosa.load(str(wav), sr=sr, mono=True)
    tempo, _beats = librosa.beat.beat_track(y=y, sr=sr)
    hop = 256
    low = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, fmax=150.0, n_mels=16)
    low = low - low.mean()
    ac = np.correlate(low, low, "full")[len(low) - 1:]
    ac = ac / (ac[0] + 1e-12)

    def r(bpm: float) -> float:
        lag = int(round(60.0 / bpm * sr / hop))
        return float(ac[max(lag - 1, 1): lag + 2].max())

    grid = np.arange(118.0, 135.5, 0.5)
    scores = [r(b) for b in grid]
    best = int(np.argmax(scores))
    kick_beat, kick_half = scores[best], r(2 * grid[best])
    return {
        "tempo_bpm": round(float(np.atleast_1d(tempo)[0]), 1),
        "centroid_hz": round(float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr)))),
        "kick_bpm": float(grid[best]),
        "kick_beat": round(kick_beat, 3),
        "kick_half": round(kick_half, 3),
        "four_on_the_floor": bool(kick_beat >= 0.45 and kick_half < kick_beat),
    }


# ---------------------------------------------------------------------------------------------


def build(cache_dir: Path | str, tracks: list[Track] | None = None, analyse: bool = True) -> list[dict]:
    cache = Path(cache_dir).expanduser()
    tracks = TRACKS if tracks is None else tracks
    check_splits(tracks)
    sources = fetch(cache, tracks)
    out = cache / "negatives"
    results = []
    print(f"{'name':30s} {'package':19s} {'split':8s} {'style':36s} {'licence':34s} {'dur s':>6s} {'bpm':>6s} {'kick':>5s}")
    for t, source in zip(tracks, sources):
        wav, meta_path = out / f"{t.name}.wav", out / f"{t.name}.json"
        if wav.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
        else:
            meta = {**asdict(t), "package_path": "/" + t.member, "copyright_file": str(Path("sources") / t.package / "copyright")}
            meta.update(decode_excerpt(source, wav))
            if analyse:
                meta["describe"] = describe(wav)
            meta_path.write_text(json.dumps(meta, indent=1))
        d = meta.get("describe", {})
        flag = "  << FOUR-ON-THE-FLOOR: not a clean negative" if d.get("four_on_the_floor") else ""
        print(f"{t.name:30s} {t.package:19s} {t.split:8s} {t.style[:36]:36s} {t.licence[:34]:34s} {meta['excerpt_s']:6.1f} "
              f"{d.get('tempo_bpm', float('nan')):6.1f} {d.get('kick_beat', float('nan')):5.2f}{flag}", flush=True)
        results.append(meta)
    # drop tracks that left the list
    if tracks is TRACKS:
        remove_stale(out, ".json", {t.name for t in tracks})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder for the packages, sources and excerpts")
    parser.add_argument("--no-analysis", action="store_true", help="skip the tempo/kick figures (librosa)")
    parser.add_argument("--force", action="store_true", help="decode the excerpts again even if they are in the cache")
    args = parser.parse_args(argv)
    cache = args.cache.expanduser()
    if args.force and (cache / "negatives").is_dir():
        for p in list((cache / "negatives").glob("*.wav")) + list((cache / "negatives").glob("*.json")):
            p.unlink()
    t0 = time.perf_counter()
    try:
        results = build(cache, analyse=not args.no_analysis)
    except RealMusicError as exc:
        print(exc, file=sys.stderr)
        return 1
    packages = {r["package"] for r in results}
    styles = {r["style"] for r in results}
    held = sum(r["split"] == "held_out" for r in results)
    print(f"{len(results)} tracks ({held} held out) from {len(packages)} packages, {len(styles)} style tags, "
          f"in {cache / 'negatives'} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
