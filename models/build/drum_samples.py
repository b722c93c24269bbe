"""Render the synth's sampled drum kits (``mvgen/synth/drum_kits/``) from the FluidR3 GM soundfont, once.

    python models/build/drum_samples.py [--sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2] [--out mvgen/synth/drum_kits]

Needs ``fluidsynth`` (Debian ``fluidsynth`` + ``fluid-soundfont-gm``) and ``mido`` (the ``bench`` extra); the
installed package and CI only read the FLAC files this writes. For each kit of :data:`KITS` (GM percussion
bank 128) and each sound of :data:`SOUNDS` (a GM drum note), one note is rendered dry (no reverb, no
chorus) at :data:`SR` Hz, its leading silence trimmed so that the hit starts at sample 0 (the synth puts
kicks exactly on their grid samples), cut to the sound's length with a short fade, peak-normalized to
:data:`PEAK` and written as 16-bit mono FLAC ``<kit>/<sound>.flac``; a sound identical to one an earlier
kit already has (FluidR3's kits share many samples) is not written again: ``index.json`` maps every kit's
sounds to their files. FluidR3 is MIT-licensed (Frank Wen);
the notice is copied next to the samples as ``LICENSE-FluidR3.txt``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import signal

SR = 22050
#: Peak of every stored one-shot: levels are set by the synth's recipes, not by the soundfont's velocities.
PEAK = 0.9
#: A hit starts at the first sample whose magnitude reaches this fraction of its peak (the soundfont's
#: notes begin with a few samples of near-silence that would put the onset after the grid position).
ONSET_FRACTION = 0.05
#: Kicks start where their body (under :data:`KICK_BODY_HZ`) reaches this fraction of its peak: several of
#: FluidR3's kicks take 3-8 ms of beater noise to reach their body, and mvgen's kicks start on their grid
#: sample (the analysis tests and the beat and drum models' truth rely on it), as producers trim a kick
#: sample's lead-in.
KICK_ONSET_FRACTION = 0.3
KICK_BODY_HZ = 200.0
#: Fade at the end of every cut one-shot (s), so that the cut does not click.
FADE_S = 0.02
#: Seconds between notes in the rendered MIDI file: the longest sound (a crash) has died out by then.
NOTE_GAP_S = 3.0
#: GM percussion kits of FluidR3 (bank 128, program): the sampled kits the synth can draw.
KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "tr808": 25, "jazz": 32, "brush": 40}
#: Sound name: (GM drum note, kept length in s). Lengths keep the asset small (the synth's kicks end
#: within a beat anyway; a crash's last second is reverb-level quiet in a mix).
SOUNDS = {
    "kick": (36, 0.45),
    "snare": (38, 0.35),
    "clap": (39, 0.3),
    "rim": (37, 0.12),
    "hat_closed": (42, 0.12),
    "hat_open": (46, 0.4),
    "tom_low": (45, 0.35),
    "tom_high": (50, 0.3),
    "crash": (49, 0.7),
    "ride": (51, 0.4),
    "shaker": (70, 0.15),
    "conga": (63, 0.25),
}
LICENSE_SOURCE = Path("/usr/share/doc/fluid-soundfont-gm/copyright")


def _midi(path: Path, program: int) -> None:
    """A MIDI file playing every sound of :data:`SOUNDS` once on the drum channel with kit ``program``, :data:`NOTE_GAP_S` apart."""
    import mido

    ticks_per_beat = 480  # at the default 120 bpm: 960 ticks a second
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", channel=9, program=program, time=0))
    gap = int(NOTE_GAP_S * 2 * ticks_per_beat)
    for i, (note, _) in enumerate(SOUNDS.values()):
        track.append(mido.Message("note_on", channel=9, note=note, velocity=110, time=0 if i == 0 else gap - 10))
        track.append(mido.Message("note_off", channel=9, note=note, velocity=0, time=10))
    mid = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    mid.tracks.append(track)
    mid.save(path)


def _one_shot(x: np.ndarray, length_s: float, onset_fraction: float, body_hz: float | None = None) -> np.ndarray:
    """The hit in ``x`` (mono) from its onset (its first sample at ``onset_fraction`` of its peak; not before its
    part under ``body_hz`` gets there, when given), cut to
    ``length_s`` with a fade, at peak :data:`PEAK`."""
    onset = int(np.argmax(np.abs(x) >= onset_fraction * np.max(np.abs(x))))
    if body_hz is not None:  # the body's onset, at or after the first sound
        body = signal.sosfiltfilt(signal.butter(4, body_hz, fs=SR, output="sos"), x)
        onset = max(onset, int(np.argmax(np.abs(body) >= onset_fraction * np.max(np.abs(body)))))
        if body[onset] < 0:  # the body's first push outwards, as the synth's kicks: layered, they add up
            x = -x
    y = x[onset : onset + int(length_s * SR)].astype(np.float64)
    fade = min(len(y), int(FADE_S * SR))
    y[len(y) - fade :] *= np.linspace(1.0, 0.0, fade)
    return (y * (PEAK / np.max(np.abs(y)))).astype(np.float32)


def build(sf2: Path, out: Path) -> None:
    import soundfile as sf

    exe = shutil.which("fluidsynth")
    if exe is None:
        sys.exit("fluidsynth is not on PATH (Debian: apt-get install fluidsynth fluid-soundfont-gm)")
    index: dict[str, dict[str, str]] = {}
    written: dict[bytes, str] = {}  # the 16-bit samples of each file written -> its path under out
    with tempfile.TemporaryDirectory() as tmp:
        for kit, program in KITS.items():
            mid, wav = Path(tmp) / f"{kit}.mid", Path(tmp) / f"{kit}.wav"
            _midi(mid, program)
            subprocess.run([exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SR), "-F", str(wav), str(sf2), str(mid)],
                           check=True, capture_output=True)
            audio, sr = sf.read(wav, dtype="float32", always_2d=True)
            assert sr == SR, sr
            mono = audio.mean(axis=1)
            (out / kit).mkdir(parents=True, exist_ok=True)
            index[kit] = {}
            for i, (name, (_, length_s)) in enumerate(SOUNDS.items()):
                start = int(i * NOTE_GAP_S * SR)
                pcm = np.round(_one_shot(mono[start : start + int(NOTE_GAP_S * SR)], length_s, *((KICK_ONSET_FRACTION, KICK_BODY_HZ) if name == "kick" else (ONSET_FRACTION,))) * 32767).astype(np.int16)
                file = written.setdefault(pcm.tobytes(), f"{kit}/{name}.flac")
                if file == f"{kit}/{name}.flac":
                    sf.write(out / file, pcm, SR, subtype="PCM_16")
                index[kit][name] = file
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    shutil.copyfile(LICENSE_SOURCE, out / "LICENSE-FluidR3.txt")
    total = sum(p.stat().st_size for p in out.rglob("*.flac"))
    print(f"{len(KITS)} kits x {len(SOUNDS)} sounds in {out}: {total / 1000:.0f} kB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sf2", type=Path, default=Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "mvgen" / "synth" / "drum_kits")
    args = parser.parse_args(argv)
    build(args.sf2, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
