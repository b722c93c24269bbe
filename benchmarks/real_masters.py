"""Real masters of several crest factors for the loudness tests, and a benchmark of the normalization on them.

``--build`` writes the three excerpts of ``tests/data/masters/`` (see its README for the sources and
licences) from Debian main packages, downloaded with ``apt-get download`` (``real_music.download_deb``)
and unpacked with ``dpkg-deb``; the tracker module is rendered with libopenmpt (``real_music.render_rows``):

- ``quiet_dynamic.ogg``: "The Sorcerer's Apprentice" (pingus-data), as libopenmpt renders it: about
  -24 LUFS with a peak-to-loudness ratio near 17 dB, so -14 LUFS needs about 4 dB of peak limiting.
- ``typical_clipping.mp3``: "Slice Me Nice" (bomberclone-data, electro, 121 bpm) raised until the MP3's
  peaks reach about +0.5 dBTP at about -15.4 LUFS, as the master of issue 23 did (real masters overshoot
  0 dBFS once lossy-encoded).
- ``loud.ogg``: "Escape from chaosland" (fretsonfire-songs-sectoid), a loud rock master as shipped: about
  -8 LUFS, true peak above 0 dBTP.

Without ``--build``: each master in a 64x64 test-pattern video (its audio encoded as mvgen encodes it) is
normalized to each target; one line per master and target: before LUFS/dBTP, the gain, the peak
limiting, after LUFS/dBTP, and the time beside the time of one plain re-encode of the same file (the
baseline: what a single pass costs on this machine).

    python benchmarks/real_masters.py [--targets -14 -16]
    python benchmarks/real_masters.py --build --cache ~/.cache/mvgen-bench   # rewrites tests/data/masters/
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MASTERS = HERE.parent / "tests" / "data" / "masters"
SR = 44100


@dataclass(frozen=True)
class Master:
    name: str  # file name in tests/data/masters
    package: str  # Debian main package
    member: str  # path inside the package
    start_s: float
    length_s: float
    gain_db: float  # raised (or lowered) before encoding
    codec: list[str]  # ffmpeg output options


MASTER_LIST = [
    Master("quiet_dynamic.ogg", "pingus-data", "usr/share/games/pingus/data/music/sorcerer.it", 40.0, 20.0, 0.0,
           ["-c:a", "libvorbis", "-q:a", "3"]),
    Master("typical_clipping.mp3", "bomberclone-data", "usr/share/games/bomberclone/music/slice_me_nice.xm", 10.0, 20.0, 0.0,
           ["-c:a", "libmp3lame", "-b:a", "160k"]),
    Master("loud.ogg", "fretsonfire-songs-sectoid", "usr/share/games/fretsonfire/data/songs/sectoid/Escape from chaosland/song.ogg", 40.0, 20.0, 0.0,
           ["-c:a", "libvorbis", "-q:a", "3"]),
]
#: The typical master is raised until its peaks would reach this (dBFS), then clipped at
#: :data:`TYPICAL_CLIP_DBFS`, as a clipper does: it comes to about -15 LUFS with peaks above 0 dBFS, as
#: issue 23's MP3 decoded (-15.4 LUFS, +0.5 dBFS): lossy encoders keep what lies over full scale.
TYPICAL_PEAK_DBFS = 0.8
TYPICAL_CLIP_DBFS = 0.5


def _decode(path: Path, start_s: float, length_s: float) -> np.ndarray:
    """``(n, 2)`` float32 at :data:`SR` of ``path`` from ``start_s`` for ``length_s``: a module rendered by libopenmpt, anything else by ffmpeg."""
    import real_music

    from mvgen.media.ffmpeg import ffmpeg_exe

    if path.suffix in (".it", ".xm", ".s3m", ".mod"):
        audio, _, _ = real_music.render_rows(path, sr=SR, max_s=start_s + length_s)
        return audio[int(start_s * SR):]
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", str(start_s), "-t", str(length_s), "-i", str(path), "-ac", "2", "-ar", str(SR),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, 2)


def build(cache: Path) -> None:
    import real_music

    from mvgen.delivery.loudness import measure_loudness
    from mvgen.media.ffmpeg import ffmpeg_exe

    MASTERS.mkdir(parents=True, exist_ok=True)
    for m in MASTER_LIST:
        out_dir = cache / "masters" / m.package
        real_music.extract_members(real_music.download_deb(m.package, cache / "debs"), [m.member], out_dir)
        (MASTERS / f"{m.package}.copyright").write_bytes((out_dir / "copyright").read_bytes())
        audio = _decode(out_dir / Path(m.member).name, m.start_s, m.length_s)
        if m.name.startswith("typical"):
            audio = np.clip(audio * (10 ** (TYPICAL_PEAK_DBFS / 20) / np.abs(audio).max()), -(10 ** (TYPICAL_CLIP_DBFS / 20)), 10 ** (TYPICAL_CLIP_DBFS / 20))
        audio = audio * 10 ** (m.gain_db / 20)
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "f32le", "-ar", str(SR), "-ac", "2", "-i", "-", *m.codec, str(MASTERS / m.name)],
                       input=np.ascontiguousarray(audio, np.float32).tobytes(), check=True)
        print(f"{m.name:22s} {measure_loudness(MASTERS / m.name).describe()}  ({(MASTERS / m.name).stat().st_size // 1024} kB)")


def master_video(master: Path, folder: Path) -> Path:
    """``master`` in a 64x64 test-pattern mp4, its audio encoded as mvgen encodes it (stereo AAC, no edit list)."""
    from mvgen.media.assemble import MP4_LAYOUT, AudioEncoding
    from mvgen.media.ffmpeg import ffmpeg_exe

    video = folder / f"{master.stem}.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-i", str(master), "-pix_fmt", "yuv420p",
                    "-ar", "48000", *AudioEncoding().args(), *MP4_LAYOUT, "-shortest", str(video)], check=True)
    return video


def bench(targets: list[float]) -> None:
    from mvgen.delivery.loudness import normalize_loudness
    from mvgen.errors import MvgenError
    from mvgen.media.assemble import MP4_LAYOUT, AudioEncoding
    from mvgen.media.ffmpeg import ffmpeg_exe

    print(f"{'master':18s} {'target':>6s}  {'before':>17s}  {'gain':>7s}  {'limited':>8s}  {'after':>17s}  {'time':>6s}  {'1 encode':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for m in MASTER_LIST:
            video = master_video(MASTERS / m.name, Path(tmp))
            t0 = time.perf_counter()
            subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-c:v", "copy", *AudioEncoding().args(), *MP4_LAYOUT, str(Path(tmp) / "plain.mp4")], check=True)
            encode_s = time.perf_counter() - t0
            for target in targets:
                t0 = time.perf_counter()
                try:
                    n = normalize_loudness(video, target, out=Path(tmp) / "n.mp4")
                except MvgenError as exc:
                    print(f"{m.name:18s} {target:6g}  refused: {exc}")
                    continue
                seconds = time.perf_counter() - t0
                b, a = n.before, n.after
                print(f"{m.name:18s} {target:6g}  {b.integrated_lufs:5.1f} LUFS {b.true_peak_dbtp:+5.1f} dBTP  {n.gain_db:+5.1f} dB  {n.limited_db:5.1f} dB  "
                      f"{a.integrated_lufs:5.1f} LUFS {a.true_peak_dbtp:+5.1f} dBTP  {seconds:5.2f}s  {encode_s:7.2f}s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="rewrite tests/data/masters/ from the Debian packages")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder for the downloaded packages")
    parser.add_argument("--targets", type=float, nargs="+", default=[-14.0, -16.0, -23.0])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.build:
        build(args.cache.expanduser())
    else:
        bench(args.targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
