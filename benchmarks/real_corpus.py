"""A real-music beat corpus of many styles, with exact grids, from Debian main packages.

Why
    ``real_music.py`` proves mvgen's beat tracker on 13 dance tracker modules; users bring rock,
    hip hop, reggae, ballads, swing and waltzes too. This script builds a yardstick of such music
    whose beats, downbeats and meter are known exactly because they come from the score itself.

Where the music and the grids come from (``PIECES``, ``kind``)
    ``midi``   MIDI files shipped by game packages (``simutrans-data``, ``openttd-openmsx``), rendered
               with ``fluidsynth`` and Debian's FluidR3 GM soundfont (``fluid-soundfont-gm``). The
               grid is the file's own tempo map and time signatures (``midi_grid``): a beat every
               1/denominator note (a dotted quarter in 6/8, 9/8, 12/8), bars from the time-signature
               events, a first bar shorter than the next one taken as a pickup (anacrusis: its beats
               are counted back from bar 1, and it has no downbeat).
    ``mma``    Accompaniment grooves of ``mma`` (Musical MIDI Accompaniment; each groove library folder
               is by other authors: zoom, casio, kara, yamaha, alexis, stdlib, pflib) played by ``mma``
               over a fixed I-vi-IV-V chord chart (``CHART``, written here) at the tempo in the table,
               then rendered and gridded like ``midi``. The drums, bass and comping are the
               groove authors'; only the chords and the tempo are this script's.
    ``chart``  Frets on Fire songs (``fretsonfire-songs-*``): studio recordings of human bands
               (``song.ogg`` + ``guitar.ogg``, mixed with ffmpeg) and the game's ``notes.mid``, whose
               tempo map the charter laid on the recording (the game plays both from time 0).
    ``module`` The tracker modules of ``real_music.TRACKS`` (rows and speed give the grid; see there).

Styles and splits
    ``style`` is one of ``STYLES``, set per piece by hand from its title, its package's docs, the
    MIDI's General MIDI drum pattern (kick/snare/hi-hat positions in the bar, swung or straight
    eighths) and tempo; ``why`` says which. ``split`` comes from ``SPLIT`` (a fixed table keyed by
    source: the package, or for ``mma`` the groove library folder, so no source is on both sides).

Checks (``check``, for every piece, on the rendered audio)
    ``onset_contrast`` (real_music): onset strength on the beats / half a beat later, full band and
    below 200 Hz; a grid on the beats gives more than 1 on one of them. ``downbeat_ratio``: onset
    strength below 200 Hz on the downbeats / on the other beats (bass notes and kicks favour beat 1;
    about 1 says nothing). Pieces under ``ONSET_OK`` are printed with a warning, not dropped.

What must be installed (the script installs nothing; it says what is missing)
    ``apt-get install -y fluidsynth fluid-soundfont-gm mma libopenmpt0 ffmpeg``; ``apt-get`` and
    ``dpkg-deb``; numpy, soundfile, librosa and ``mido`` (PyPI) in the project's virtualenv.

Run once (about 3.5 minutes on 2 shared cores; about 110 MB of packages, downloaded and deleted again;
1.3 GB of WAV):

    python benchmarks/real_corpus.py --cache ~/.cache/mvgen-bench

Output: ``CACHE/corpus/NAME.wav`` (44.1 kHz stereo, 16 bit, at most ``MAX_S`` s) and
``CACHE/corpus/NAME.beats.json``; the packages' copyright files in ``CACHE/corpus/sources/PACKAGE/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_music import TRACKS, RealMusicError, download_deb, extract_members, onset_at, onset_contrast, remove_stale, render_with_beats  # noqa: E402

SR = 44100
MAX_S = 60.0  # excerpt length: long enough for a tracker to settle, short enough for a < 1.5 GB cache
TEMPO_CHANGE_MAX_S = 90.0  # pieces filed for their tempo changes keep more, so that the changes fall inside
CHART_START_S = 30.0  # Frets on Fire excerpts start 30 s into the song, past the intros
LEAD_IN_S = 0.5  # a MIDI excerpt starts this long before its first note (not on a bar line, on purpose)
ONSET_OK = 1.1  # real_music's threshold: the grid is on the beats when either half-beat ratio reaches it
PICKUP_MIN_BEATS = 0.25  # music starting at least this much of a beat before bar 1 is a pickup
CHART_MAX_LAG_S = 0.25  # chart_offset searches the chart's alignment within this much either way
TEMPO_CHANGE_REL = 0.01  # tempos differing by more than 1 % count as a tempo change
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # fluid-soundfont-gm
APT_TOOLS = {"fluidsynth": "fluidsynth", "mma": "mma", "ffmpeg": "ffmpeg"}  # program -> Debian package

STYLES = ("house_techno_trance", "dnb_jungle", "hardcore", "hiphop_trap", "reggae_dancehall", "rock_pop",
          "ballad", "funk_swing", "triple_meter", "tempo_changes_pickups")

# Licences as the packages' copyright files give them (the files are kept beside the corpus).
LICENCES = {
    "simutrans-data": "Artistic-1.0",
    "openttd-openmsx": "GPL-2.0",
    "mma": "GPL-2+",
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",
    "fretsonfire-songs-sectoid": "Expat-style permission notice (fretsonfire-songs-sectoid copyright)",
}

# The split, by source (package, or "mma/LIBRARY"): fixed here, never drawn at run time.
SPLIT = {
    "simutrans-data": "held_out", "fretsonfire-songs-sectoid": "held_out", "ri-li-data": "held_out",
    "mma/casio": "held_out", "mma/stdlib": "held_out",
    "openttd-openmsx": "dev", "fretsonfire-songs-muldjord": "dev",
    "mma/zoom": "dev", "mma/alexis": "dev", "mma/kara": "dev", "mma/yamaha": "dev", "mma/pflib": "dev",
    # real_music's packages: the tracks mvgen was tuned on (ri-li-data above was held out there too)
    **{t.package: "dev" for t in TRACKS if t.split == "dev"},
}

CHART = ["C", "Am", "F", "G"]  # the chords under every mma groove, one a bar


@dataclass(frozen=True)
class Piece:
    name: str  # file stem in CACHE/corpus
    kind: str  # "midi", "mma", "chart" or "module" (see the docstring)
    package: str
    source: str  # file inside the package (mma: the groove file)
    style: str  # one of STYLES
    why: str  # the evidence for the style label
    groove: str = ""  # mma: the groove's name
    tempo_bpm: float = 0.0  # mma: the tempo it is played at (quarter notes a minute)
    time_sig: tuple[int, int] = (4, 4)  # mma: the meter, written into the MIDI file
    start_s: float | None = None  # where the excerpt starts (default: just before the first note; charts: 30 s in)

    @property
    def split_source(self) -> str:
        return f"mma/{Path(self.source).parent.name}" if self.kind == "mma" else self.package

    @property
    def max_s(self) -> float:
        return TEMPO_CHANGE_MAX_S if self.style == "tempo_changes_pickups" else MAX_S


_ST = "usr/share/games/simutrans/music/"
_MSX = "usr/share/games/openttd/baseset/openmsx/"
_FOF = "usr/share/games/fretsonfire/data/songs/"
_MMA = "usr/share/mma/lib/"


def _st(name, file, style, why, start_s=None):
    return Piece(f"simutrans-{name}", "midi", "simutrans-data", _ST + file, style, why, start_s=start_s)


def _msx(name, style, why, start_s=None):
    return Piece(f"openmsx-{name.replace('_', '-')}", "midi", "openttd-openmsx", f"{_MSX}{name}.mid", style, why, start_s=start_s)


def _mma(lib_file, groove, tempo, style, why, time_sig=(4, 4)):
    return Piece(f"mma-{lib_file.replace('/', '-').lower()}-{groove.lower()}", "mma", "mma", f"{_MMA}{lib_file}.mma",
                 style, why, groove=groove, tempo_bpm=tempo, time_sig=time_sig)


def _fof(package, song, style, why):
    slug = song.lower().replace(" ", "-").replace("_", "-")
    return Piece(f"fof-{slug}", "chart", package, f"{_FOF}{package.rsplit('-', 1)[1]}/{song}/notes.mid", style, why)


_SWUNG = "hi-hats on the beat and 2/3 through it (swung eighths)"
PIECES: list[Piece] = [
    # ---- simutrans-data (held out): GM MIDI by Simutrans' composers
    _st("house-in-the-station", "46-House-in-the-station.mid", "house_techno_trance", "title; 125 bpm, snare/clap on 2 and 4, hats on every 16th"),
    _st("techno-movement", "48-Techno-movement.mid", "house_techno_trance", "title; 133 bpm, hats on every off-beat 8th (after a 1/8 pickup bar)"),
    _st("gotta-catch-that-train", "02-Gotta-catch-that-train.mid", "rock_pop", "130 bpm, straight 8th hats, syncopated kick, backbeat fills"),
    _st("easy-driving", "10-Easy-driving.mid", "rock_pop", "kick on 1 and 3-and, snare on 2 and 4, straight 8ths"),
    _st("last-journey-of-the-niagara", "14-Last-journey-of-the-Niagara.mid", "rock_pop", "rock beat: kick 1, 2-and, 3; snare 2 and 4; straight 8ths"),
    _st("last-trip", "20-Last-Trip.mid", "rock_pop", "90 bpm, kick 1 and 3, snare 2 and 4, straight 8ths"),
    _st("tantalizingly-unusual", "26-Tantalizingly-Unusual.mid", "rock_pop", "108 bpm backbeat, straight 8ths"),
    _st("summer-intersection", "51-Summer-Intersection.mid", "rock_pop", "115 bpm, kick on every beat with a 2-and-4 backbeat (disco-pop)"),
    _st("rockin-trucker", "19-Rockin-trucker.mid", "rock_pop", "title; 200 bpm, kick 1 and 3, snare 2 and 4"),
    _st("simupolitan-swing", "09-Simupolitan-Swing.mid", "funk_swing", "title; " + _SWUNG),
    _st("ride-that-train", "18-Ride-that-train.mid", "funk_swing", "129 bpm shuffle: " + _SWUNG),
    _st("something-for-silver-sand", "23-Something-for-Silver-Sand.mid", "funk_swing", "130 bpm shuffle: " + _SWUNG),
    _st("courtenay-bridge", "31-Courtenay-Bridge.mid", "funk_swing", "160 bpm shuffle: " + _SWUNG),
    _st("inevitably-engrossed", "37-inevitably-engrossed.mid", "funk_swing", "130 bpm shuffle: " + _SWUNG),
    _st("dusty-eyes", "21-Dusty-Eyes.mid", "funk_swing", "85 bpm shuffle: " + _SWUNG),
    _st("wayside-blues", "15-The-Wayside-Blues.mid", "triple_meter", "12/8 blues (time signature 12/8, one 6/8 bar)"),
    _st("journey-home", "08-The-journey-home.mid", "tempo_changes_pickups", "pickup: 3 beats before bar 2 (the file's bar 1 starts with rests)"),
    _st("variable-journeys", "22-Variable-Journeys.mid", "tempo_changes_pickups", "pickup: 2 beats before the first full bar"),
    _st("libertador", "41-Libertador.mid", "tempo_changes_pickups", "pickup: 2 beats before the first full bar"),
    _st("faded-things", "36-faded-things.mid", "tempo_changes_pickups", "pickup: 2 beats at 185 bpm"),
    _st("needlessly-striking", "24-needlessly-striking.mid", "tempo_changes_pickups", "pickup: 1 beat at 216 bpm"),
    _st("driving-on-the-midnight-highway", "43-Driving-on-the-midnight-highway.mid", "tempo_changes_pickups", "a 1-beat pickup, then 60, 50 and 116 bpm"),
    _st("dreamy-oriental-nights", "52-Dreamy-Oriental-Nights.mid", "tempo_changes_pickups", "a pickup, then 70 and 126 bpm"),
    _st("snowy-road", "50-Snowy-Road.mid", "tempo_changes_pickups", "10 tempo events, 128-148 bpm"),
    _st("float-on-by", "25-Float-on-by.mid", "tempo_changes_pickups", "76 then 101 bpm (at 32 s)"),
    # ---- openttd-openmsx (dev): GM MIDI by OpenMSX's composers (readme.txt in the package)
    _msx("boogi_marabi_redfarn", "triple_meter", "time signature 3/4, 153 bpm"),
    _msx("the_hobo_redfarn", "triple_meter", "time signature 6/4, 126 bpm"),
    _msx("5432gone_redfarn", "triple_meter", "time signature 5/4 (odd meter, filed here for its non-4 bar)"),
    _msx("city_blues_redfarn", "funk_swing", "title (blues); 120 bpm, hats on the off-beat 8ths, snare 2 and 4"),
    _msx("moo_redfarn", "tempo_changes_pickups", "pickup: 1 beat before bar 2; 120 bpm shuffle"),
    _msx("train_filled_with_cash", "tempo_changes_pickups", "pickup: 3 beats before bar 2; 90 bpm"),
    _msx("slow_neasy_redfarn", "funk_swing", "135 bpm shuffle: hats on the beat and 2/3 (swung)"),
    _msx("keep_on_rolling", "funk_swing", "104 bpm, ghost snares on the triplet 16ths"),
    _msx("ultimate_run", "rock_pop", "150 bpm, kick 1 and 3, snare 2 and 4, straight 8ths"),
    _msx("say_what_redfarn", "rock_pop", "143 bpm, kick 1, 3, 3-and; snare 2 and 4; straight 8ths"),
    _msx("no_work_song_redfarn", "rock_pop", "110 bpm, kick 1, 2-and, 3, 4-and; snare 2 and 4"),
    _msx("harp_harmony", "rock_pop", "130 bpm, kick 1 and 3, snare 2 and 4"),
    _msx("run_for_your_life", "tempo_changes_pickups", "pickup: 1.5 beats; 170 bpm rock, snare 2 and 4"),
    _msx("flying_scotsman", "rock_pop", "200 bpm, kick on 1 and 3, snare on 3, straight 8ths"),
    _msx("modern_motion", "house_techno_trance", "title; 120 bpm, kick only on 1 of every bar, 8th hats"),
    _msx("careless_perc_redfarn", "ballad", "64 bpm, kick on every beat, no snare"),
    _msx("be_sharp_bw_redfarn", "tempo_changes_pickups", "17 tempo events from 134 s (ritardando 109 to 81 bpm)", start_s=60.0),
    _msx("midnight_snow_run", "tempo_changes_pickups", "65 tempo events (accelerando from 120 bpm)"),
    _msx("chuggachugga", "tempo_changes_pickups", "180 bpm slowing to 69 at the end"),
    _msx("ttsong_iii_imuh3", "tempo_changes_pickups", "a 2/4 bar among 4/4 bars"),
    # ---- mma grooves, dev libraries (zoom, alexis, kara, yamaha, pflib)
    _mma("zoom/hiphop", "HIP01", 90, "hiphop_trap", "groove 'hiphop' (Zoom drum machine patterns)"),
    _mma("zoom/hiphop", "HIP03", 92, "hiphop_trap", "groove 'hiphop' (Zoom), another pattern"),
    _mma("alexis/hiphop", "HipHop", 90, "hiphop_trap", "groove 'HipHop' by Alexis, its own Tempo 90"),
    _mma("zoom/trip", "TRIP01", 80, "hiphop_trap", "groove 'trip' (trip hop, Zoom)"),
    _mma("zoom/reggae", "REGG01", 76, "reggae_dancehall", "groove 'reggae' (Zoom): stick on the off-beats"),
    _mma("zoom/reggae", "REGG03", 80, "reggae_dancehall", "groove 'reggae' (Zoom), another pattern"),
    _mma("zoom/ska", "SKA01", 140, "reggae_dancehall", "groove 'ska' (Zoom): the skank on the off-beats"),
    _mma("zoom/dnb", "DnB01", 172, "dnb_jungle", "groove 'dnb' (Zoom): kick 1, 2-and, 4-and; snare 2, 3-and; at drum and bass's 172 bpm"),
    _mma("zoom/dnb", "DnB03", 172, "dnb_jungle", "groove 'dnb' (Zoom), another pattern, at 172 bpm"),
    _mma("zoom/dnb", "DnB06", 172, "dnb_jungle", "groove 'dnb' (Zoom), with congas, at 172 bpm"),
    _mma("zoom/house", "HOUS01", 124, "house_techno_trance", "groove 'house' (Zoom)"),
    _mma("zoom/techno", "TECH01", 130, "house_techno_trance", "groove 'techno' (Zoom)"),
    _mma("alexis/teamtechno", "TeamTechno", 128, "house_techno_trance", "groove 'TeamTechno' by Alexis"),
    _mma("zoom/funk", "FUNK01", 100, "funk_swing", "groove 'funk' (Zoom)"),
    _mma("kara/Kfunk1", "Kfunk1A", 104, "funk_swing", "groove 'Kfunk1' (Kara)"),
    _mma("yamaha/jazzswing", "JazzSwingMainA", 140, "funk_swing", "groove 'JazzSwing' (Yamaha)"),
    _mma("pflib/rock1", "rock1A", 120, "rock_pop", "groove 'rock1' (pflib)"),
    _mma("pflib/metal1", "metal1A", 120, "rock_pop", "groove 'metal1' (pflib)"),
    _mma("zoom/rock", "ROCK01", 120, "rock_pop", "groove 'rock' (Zoom)"),
    _mma("zoom/punk", "PUNK01", 170, "rock_pop", "groove 'punk' (Zoom)"),
    _mma("zoom/bald", "BALD01", 70, "ballad", "groove 'bald' (Zoom ballad)"),
    _mma("kara/kwestballad", "kwestballadA", 72, "ballad", "groove 'kwestballad' (Kara, west-coast ballad)"),
    _mma("zoom/rock34", "ROCK28", 110, "triple_meter", "groove 'rock34' (Zoom), 3/4", (3, 4)),
    _mma("zoom/blues68", "68BLUS", 80, "triple_meter", "groove 'blues68' (Zoom), 6/8", (6, 8)),
    _mma("yamaha/jazzwaltz", "JazzWaltzMainA", 150, "triple_meter", "groove 'JazzWaltz' (Yamaha), 3/4", (3, 4)),
    # ---- mma grooves, held-out libraries (casio, stdlib)
    _mma("casio/hip-hop", "Hip-Hop", 90, "hiphop_trap", "groove 'Hip-Hop' (Casio WK-3000 conversion)"),
    _mma("casio/triphop", "TripHop", 80, "hiphop_trap", "groove 'TripHop' (Casio)"),
    _mma("stdlib/ska", "Ska", 140, "reggae_dancehall", "groove 'Ska' (stdlib): off-beat skank"),
    _mma("stdlib/calypso", "Calypso", 120, "reggae_dancehall", "groove 'Calypso' (stdlib): Caribbean, nearest to reggae here"),
    _mma("casio/house", "House", 124, "house_techno_trance", "groove 'House' (Casio)"),
    _mma("casio/techno", "Techno", 132, "house_techno_trance", "groove 'Techno' (Casio)"),
    _mma("casio/trance1", "Trance1", 138, "house_techno_trance", "groove 'Trance1' (Casio)"),
    _mma("stdlib/trance", "Trance", 138, "house_techno_trance", "groove 'Trance' (stdlib)"),
    _mma("casio/rave", "Rave", 160, "hardcore", "groove 'Rave' (Casio) at 160 bpm"),
    _mma("casio/funk1", "Funk1", 100, "funk_swing", "groove 'Funk1' (Casio)"),
    _mma("casio/swing", "Swing", 140, "funk_swing", "groove 'Swing' (Casio)"),
    _mma("stdlib/swing", "Swing", 140, "funk_swing", "groove 'Swing' (stdlib)"),
    _mma("stdlib/bvfunk", "BVFunk", 100, "funk_swing", "groove 'BVFunk' (stdlib)"),
    _mma("casio/poprock1", "PopRock1", 120, "rock_pop", "groove 'PopRock1' (Casio)"),
    _mma("stdlib/basicrock", "BasicRock", 120, "rock_pop", "groove 'BasicRock' (stdlib)"),
    _mma("stdlib/ballad", "Ballad", 70, "ballad", "groove 'Ballad' (stdlib)"),
    _mma("stdlib/popballad", "PopBallad", 72, "ballad", "groove 'PopBallad' (stdlib)"),
    _mma("casio/popballad", "PopBallad", 72, "ballad", "groove 'PopBallad' (Casio)"),
    _mma("casio/8beatballad1", "8BeatBallad1", 70, "ballad", "groove '8BeatBallad1' (Casio)"),
    _mma("stdlib/waltz", "Waltz", 100, "triple_meter", "groove 'Waltz' (stdlib), 3/4", (3, 4)),
    _mma("casio/jazzwaltz", "JazzWaltz", 150, "triple_meter", "groove 'JazzWaltz' (Casio), 3/4", (3, 4)),
    _mma("casio/popwaltz", "PopWaltz", 100, "triple_meter", "groove 'PopWaltz' (Casio), 3/4", (3, 4)),
    # ---- Frets on Fire: recorded bands with the charter's tempo map. Left out: muldjord's
    # "armygeddon" and sectoid's "Metal madness", whose charts do not sit on the recording
    # (chart_offset: best lag -162 ms with a flat peak, 1.19; +238 ms, at the edge of the search)
    _fof("fretsonfire-songs-muldjord", "chaos_god", "rock_pop", "Muldjord (metal); 170 bpm"),
    _fof("fretsonfire-songs-muldjord", "internal_degeneration", "rock_pop", "Muldjord (metal); 190 bpm"),
    _fof("fretsonfire-songs-muldjord", "mutilated_mime", "rock_pop", "Muldjord (metal); 180 bpm"),
    _fof("fretsonfire-songs-sectoid", "Feelings", "ballad", "Sectoid, 'Feelings'; 95 bpm"),
    _fof("fretsonfire-songs-sectoid", "Escape from chaosland", "rock_pop", "Sectoid (rock)"),
    _fof("fretsonfire-songs-sectoid", "War of freedom", "rock_pop", "Sectoid (rock)"),
] + [
    # ---- real_music.TRACKS: the dance modules (swung ri-li jeu2 filed under swing)
    Piece(t.name, "module", t.package, t.member,
          "funk_swing" if t.name == "rili-jeu2" else "house_techno_trance", f"{t.style} (real_music.TRACKS: {t.evidence})")
    for t in TRACKS
]


def split_of(piece: Piece) -> str:
    return SPLIT[piece.split_source]


# ---------------------------------------------------------------------------------------------
# tools


def missing_tools() -> list[str]:
    """The Debian packages this script needs that are not installed (by their programs and files)."""
    missing = [pkg for prog, pkg in APT_TOOLS.items() if shutil.which(prog) is None]
    if not SOUNDFONT.exists():
        missing.append("fluid-soundfont-gm")
    return missing


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RealMusicError(f"real_corpus: {what} failed: {proc.stderr.decode(errors='replace').strip()[-400:]}")


# ---------------------------------------------------------------------------------------------
# MIDI grids


def midi_grid(mid_path: Path | str) -> dict:
    """The exact beat grid of a MIDI file, from its tempo map and time signatures.

    Returns ``beats_s``, ``downbeats_s`` (seconds from the file's start, ascending), ``bars``
    (per bar: start in seconds, numerator/denominator, beats in it), ``tempos`` ((time_s, bpm of
    a quarter note) at every tempo event), ``first_note_s``, ``end_s`` (last note-off) and
    ``notes_s`` (every distinct note-on time).
    A beat is 1/denominator of a whole note, a dotted quarter in compound meters (6/8, 9/8, 12/8).
    A first bar shorter than the next one is a pickup: its beats count back from bar 1 and it has
    no downbeat. A time signature event inside a bar ends that bar there.
    """
    import mido

    mid = mido.MidiFile(str(mid_path), clip=True)
    tpb = mid.ticks_per_beat
    tick, tempos, sigs, notes_on, end_tick = 0, [(0, 500000)], [], [], 0
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        if msg.type == "set_tempo":
            tempos.append((tick, msg.tempo))
        elif msg.type == "time_signature":
            sigs.append((tick, msg.numerator, msg.denominator))
        elif msg.type == "note_on" and msg.velocity > 0:
            notes_on.append(tick)
            end_tick = max(end_tick, tick)
        elif msg.type in ("note_off", "note_on"):
            end_tick = max(end_tick, tick)
    if not notes_on:
        raise RealMusicError(f"real_corpus: {mid_path} has no notes")
    tempos.sort(key=lambda t: t[0])
    seg_ticks = np.array([t for t, _ in tempos], float)
    seg_us = np.array([us for _, us in tempos], float)
    seg_start_s = np.concatenate([[0.0], np.cumsum(np.diff(seg_ticks) * seg_us[:-1] / tpb / 1e6)])

    def to_s(ticks):
        ticks = np.asarray(ticks, float)
        i = np.searchsorted(seg_ticks, ticks, side="right") - 1
        return seg_start_s[i] + (ticks - seg_ticks[i]) * seg_us[i] / tpb / 1e6

    sigs = sorted({t: (t, n, d) for t, n, d in sigs}.values()) or [(0, 4, 4)]
    if sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))

    def beat_unit(n, d):  # (ticks per beat, beats per bar)
        if d == 8 and n % 3 == 0 and n > 3:
            return tpb * 4 * 3 / d, n // 3
        return tpb * 4 / d, n

    bars = []  # (start tick, length in ticks, n, d, beat ticks)
    for i, (t0, n, d) in enumerate(sigs):
        t_end = sigs[i + 1][0] if i + 1 < len(sigs) else end_tick + 1
        bar_len = tpb * 4 * n / d
        t = t0
        while t < t_end:
            bars.append((t, min(bar_len, t_end - t), n, d, beat_unit(n, d)[0]))
            t += bar_len
    beats, downbeats, bar_info = [], [], []
    for k, (t, length, n, d, beat_ticks) in enumerate(bars):
        full = tpb * 4 * n / d
        if k == 0 and len(bars) > 1 and length < bars[1][1] - 1e-9 and full < bars[1][1] + 1e-9:
            # pickup: beats counted back from bar 1 in bar 1's beat unit; no downbeat
            nxt = bars[1]
            ticks = [nxt[0] - j * nxt[4] for j in range(1, 64) if nxt[0] - j * nxt[4] >= t]
            beats += sorted(ticks)
            continue
        ticks = list(np.arange(t, t + length - 1e-9, beat_ticks))
        beats += ticks
        downbeats.append(t)
        bar_info.append((t, f"{n}/{d}", len(ticks)))
    return {
        "beats_s": to_s(beats), "downbeats_s": to_s(downbeats),
        "bars": [(float(to_s(t)), sig, nb) for t, sig, nb in bar_info],
        "tempos": [(float(to_s(t)), 60e6 / us) for t, us in tempos],
        "first_note_s": float(to_s(min(notes_on))), "end_s": float(to_s(end_tick)),
        "notes_s": to_s(sorted(set(notes_on))),
    }


def excerpt_reference(grid: dict, start_s: float, end_s: float) -> dict:
    """The grid inside [start_s, end_s), in seconds from ``start_s``, with meter and tempo summaries."""
    beats = grid["beats_s"][(grid["beats_s"] >= start_s) & (grid["beats_s"] < end_s)] - start_s
    downbeats = grid["downbeats_s"][(grid["downbeats_s"] >= start_s) & (grid["downbeats_s"] < end_s)] - start_s
    bars = [b for b in grid["bars"] if start_s <= b[0] < end_s]
    meters = Counter(nb for _, _, nb in bars)
    meter_changes = []
    for t, sig, nb in bars:
        if not meter_changes or meter_changes[-1][1] != sig:
            meter_changes.append((round(t - start_s, 5), sig))
    # tempos from the first note on: an empty lead-in bar at another tempo is no tempo change
    music_s = max(start_s, grid["first_note_s"])
    in_force = [bpm for t, bpm in grid["tempos"] if t <= music_s][-1:]
    bpms = in_force + [bpm for t, bpm in grid["tempos"] if music_s < t < end_s]
    first_down = downbeats[0] + start_s if len(downbeats) else None
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0
    pickup = first_down - grid["first_note_s"] if first_down is not None and grid["first_note_s"] >= start_s else 0.0
    ibi = np.diff(beats)
    return {
        "beats_s": [round(float(b), 5) for b in beats],
        "downbeats_s": [round(float(b), 5) for b in downbeats],
        "beats_per_bar": meters.most_common(1)[0][0] if meters else None,
        "meter_changes": meter_changes,
        "tempo_bpm": round(float(60.0 / np.median(ibi)), 3) if len(ibi) else None,
        "tempo_changes": bool(len(bpms) > 1 and (max(bpms) - min(bpms)) > TEMPO_CHANGE_REL * min(bpms)),
        "tempo_range_bpm": [round(min(bpms), 2), round(max(bpms), 2)] if bpms else [],
        # an anacrusis: music before bar 1 (seconds of it; 0 when the music starts on a downbeat)
        # (less than a quarter beat early is a note played ahead of bar 1, not a pickup)
        "pickup_s": round(pickup, 4) if pickup > PICKUP_MIN_BEATS * period else 0.0,
    }


# ---------------------------------------------------------------------------------------------
# rendering


def _trim_midi(mid_path: Path, end_s: float, out: Path) -> None:
    """Write ``mid_path`` cut after ``end_s`` seconds (so that fluidsynth renders no more than needed)."""
    import mido

    mid = mido.MidiFile(str(mid_path), clip=True)
    merged = mido.MidiTrack()
    elapsed, tempo = 0.0, 500000
    for msg in mido.merge_tracks(mid.tracks):
        elapsed += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
        if elapsed > end_s:
            break  # nothing after the excerpt: fluidsynth renders until the last event
        if msg.type == "set_tempo":
            tempo = msg.tempo
        if msg.type != "end_of_track":
            merged.append(msg)
    # every channel's notes released where the excerpt ends, so no voice rings on
    merged += [mido.Message("control_change", channel=ch, control=123, value=0, time=0) for ch in range(16)]
    merged.append(mido.MetaMessage("end_of_track", time=0))
    trimmed = mido.MidiFile(ticks_per_beat=mid.ticks_per_beat, type=0)
    trimmed.tracks.append(merged)
    trimmed.save(str(out))


def _write_wav(audio: np.ndarray, out_wav: Path) -> None:
    import soundfile as sf

    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    gain = 0.89 / peak if peak > 0 else 1.0  # -1 dBFS peak, so 16-bit PCM does not clip
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_wav), audio * gain, SR, subtype="PCM_16")


def render_midi(mid_path: Path, out_wav: Path, max_s: float, start_s: float | None = None) -> dict:
    """Render ``mid_path`` with fluidsynth, keep ``max_s`` s from ``start_s`` (default: just before the first note)."""
    import soundfile as sf

    grid = midi_grid(mid_path)
    start = max(0.0, grid["first_note_s"] - LEAD_IN_S) if start_s is None else start_s
    end = min(start + max_s, grid["end_s"] + 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        trimmed, raw = Path(tmp) / "cut.mid", Path(tmp) / "raw.wav"
        _trim_midi(mid_path, end, trimmed)
        _run(["fluidsynth", "-ni", "-g", "0.5", "-r", str(SR), "-F", str(raw), str(SOUNDFONT), str(trimmed)], f"fluidsynth on {mid_path.name}")
        audio, sr = sf.read(str(raw), dtype="float32", always_2d=True)
    assert sr == SR
    _write_wav(audio[int(start * SR): int(end * SR)], out_wav)
    return {**excerpt_reference(grid, start, end), "excerpt_s": [round(start, 4), round(end, 4)]}


def render_mma(piece: Piece, work: Path, out_wav: Path) -> dict:
    """Play ``piece.groove`` with mma over ``CHART`` at ``piece.tempo_bpm``, then render it as a MIDI file."""
    n, d = piece.time_sig
    quarters_per_bar = 4 * n / d
    bars = int(np.ceil((piece.max_s + 4) * piece.tempo_bpm / 60 / quarters_per_bar))
    lines = [f"Tempo {piece.tempo_bpm:g}", f"Use {Path(piece.source).parent.name}/{Path(piece.source).stem}",
             f"Groove {piece.groove}", f"TimeSig {n} {d}"]
    lines += [f"{i + 1} {CHART[i % len(CHART)]}" for i in range(bars)]
    work.mkdir(parents=True, exist_ok=True)
    song, mid = work / f"{piece.name}.mma", work / f"{piece.name}.mid"
    song.write_text("\n".join(lines) + "\n")
    _run(["mma", "-f", str(mid), str(song)], f"mma on {song.name}")
    return render_midi(mid, out_wav, piece.max_s)


def render_chart(song_dir: Path, piece: Piece, out_wav: Path) -> dict:
    """Mix a Frets on Fire song's recordings with ffmpeg; the grid is ``notes.mid``'s tempo map from time 0."""
    import soundfile as sf

    grid = midi_grid(song_dir / "notes.mid")
    start = CHART_START_S if piece.start_s is None else piece.start_s
    stems = [p for p in (song_dir / "song.ogg", song_dir / "guitar.ogg") if p.exists()]
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "mix.wav"
        cmd = ["ffmpeg", "-v", "error", "-y", "-ss", f"{start}", "-t", f"{piece.max_s}", "-i", str(stems[0])]
        if len(stems) > 1:
            cmd += ["-ss", f"{start}", "-t", f"{piece.max_s}", "-i", str(stems[1]),
                    "-filter_complex", "amix=inputs=2:duration=longest:normalize=0"]
        _run(cmd + ["-ar", str(SR), "-ac", "2", str(raw)], f"ffmpeg on {song_dir.name}")
        audio, _ = sf.read(str(raw), dtype="float32", always_2d=True)
    end = start + len(audio) / SR
    _write_wav(audio, out_wav)
    return {**excerpt_reference(grid, start, end), "excerpt_s": [start, round(end, 4)],
            "chart_check": chart_offset(out_wav, grid, start)}


# ---------------------------------------------------------------------------------------------
# fetching


def fetch_sources(cache: Path, pieces: list[Piece]) -> dict[str, Path]:
    """Extract every piece's source files into CACHE/corpus/sources/PACKAGE[/SONG]/; returns name -> folder."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for p in pieces:
        if p.kind == "module":
            continue
        members = [p.source]
        if p.kind == "chart":
            members = [str(Path(p.source).with_name(f)) for f in ("notes.mid", "song.ogg", "guitar.ogg")]
        sub = Path(p.source).parent.name if p.kind in ("chart", "mma") else ""
        wanted.setdefault((p.package, sub), []).extend(members)
    if any(p.kind == "mma" for p in pieces):
        mma_lib = Path("/usr/share/mma/lib")  # mma plays the grooves of its installed library (the files kept here are for the record)
        if not mma_lib.is_dir():
            raise RealMusicError("real_corpus: mma is not installed; run 'apt-get install -y mma'")
    folders: dict[tuple[str, str], Path] = {}
    by_package: dict[str, list[tuple[str, list[str]]]] = {}
    for (package, sub), members in wanted.items():
        by_package.setdefault(package, []).append((sub, members))
    for package, subs in by_package.items():
        deb = None
        for sub, members in subs:
            out = cache / "corpus" / "sources" / package / sub if sub else cache / "corpus" / "sources" / package
            folders[(package, sub)] = out
            if all((out / Path(m).name).exists() for m in members if not m.endswith("guitar.ogg")):
                continue
            deb = deb or download_deb(package, cache / "debs")
            try:
                extract_members(deb, members, out)
            except RealMusicError:
                extract_members(deb, [m for m in members if not m.endswith("guitar.ogg")], out)
            if sub and (out / "copyright").exists():
                (out / "copyright").replace(out.parent / "copyright")
        if deb is not None:
            deb.unlink()
    return {p.name: folders[(p.package, Path(p.source).parent.name if p.kind in ("chart", "mma") else "")] for p in pieces if p.kind != "module"}


# ---------------------------------------------------------------------------------------------
# checks


def downbeat_ratio(wav: Path, downbeats_s, beats_s, sr: int = 22050) -> float:
    """Onset strength below 200 Hz on the downbeats / on the other beats (nan without two of each)."""
    import librosa

    y, sr = librosa.load(str(wav), sr=sr, mono=True)
    hop = 128
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=512, fmax=200.0, n_mels=12)
    down = np.asarray(downbeats_s, float)
    beats = np.asarray(beats_s, float)
    others = beats[np.min(np.abs(beats[:, None] - down[None, :]), axis=1) > 0.01] if len(down) else beats

    if len(down) < 2 or len(others) < 2:
        return float("nan")
    return onset_at(env, down, sr, hop) / max(onset_at(env, others, sr, hop), 1e-9)


def chart_offset(wav: Path, grid: dict, start_s: float, sr: int = 22050) -> dict:
    """How well a chart's notes line up with the recording: the lag that best matches them.

    The onset strength of the mix is correlated with a pulse at every chart note (the guitar
    part the charter placed by ear on this recording) for lags within ``CHART_MAX_LAG_S``.
    ``lag_ms``: the best lag (positive: the audio's onsets come after the chart's notes);
    ``peak_over_median``: the correlation there over its median across lags (about 1: no match).
    A chart (and so its tempo map) on the recording gives a clear peak near 0 ms.
    """
    import librosa

    y, sr = librosa.load(str(wav), sr=sr, mono=True)
    hop = 128
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=512)
    notes = grid["notes_s"][(grid["notes_s"] >= start_s) & (grid["notes_s"] < start_s + len(y) / sr)] - start_s
    frames = np.round(notes * sr / hop).astype(int)
    max_lag = int(CHART_MAX_LAG_S * sr / hop)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = np.array([env[np.clip(frames + lag, 0, len(env) - 1)].mean() for lag in lags])
    best = int(np.argmax(corr))
    return {"lag_ms": round(float(lags[best] * hop / sr * 1000), 1), "peak_over_median": round(float(corr[best] / np.median(corr)), 2),
            "notes": int(len(frames))}


def check(wav: Path, ref: dict) -> dict:
    """The piece's onset checks: real_music's half-beat ratios, ``downbeat_ratio`` and ``ok``."""
    import warnings

    with warnings.catch_warnings():  # 12 mel bands below 200 Hz leave some empty: expected, harmless
        warnings.simplefilter("ignore", UserWarning)
        c = onset_contrast(wav, ref["beats_s"])
        c["downbeat_ratio"] = downbeat_ratio(wav, ref["downbeats_s"], ref["beats_s"])
    c = {k: round(v, 3) for k, v in c.items()}
    c["ok"] = max(c["half_ratio"], c["half_ratio_low"]) >= ONSET_OK
    return c


# ---------------------------------------------------------------------------------------------


def build_piece(cache: Path, piece: Piece, folder: Path | None) -> dict:
    out_wav = cache / "corpus" / f"{piece.name}.wav"
    if piece.kind == "module":
        track = next(t for t in TRACKS if t.name == piece.name)
        module = cache / "modules" / track.package / Path(track.member).name
        ref = render_with_beats(module, out_wav, rows_per_beat=track.rows_per_beat, max_s=piece.max_s, swing=track.swing)
        ref = {"beats_s": ref["beats_s"], "downbeats_s": ref["downbeats_s"], "beats_per_bar": 4, "meter_changes": [],
               "tempo_bpm": ref["tempo_bpm"], "tempo_changes": False, "excerpt_s": [0.0, ref["duration_s"]],
               "grid": f"tracker rows (real_music.render_with_beats): a beat every {track.rows_per_beat} rows, bars from pattern row 0"
                       + ("" if ref["downbeats_s"] else "; patterns are not whole bars, so no downbeats"),
               "licence": track.licence}
    elif piece.kind == "mma":
        ref = render_mma(piece, cache / "corpus" / "work", out_wav)
        ref["grid"] = (f"MIDI tempo map and time signature of mma's output: groove {piece.groove} ({Path(piece.source).parent.name}/"
                       f"{Path(piece.source).name}) at {piece.tempo_bpm:g} bpm in {piece.time_sig[0]}/{piece.time_sig[1]} over the chords "
                       f"{' '.join(CHART)}; rendered with fluidsynth (FluidR3_GM)")
    elif piece.kind == "midi":
        ref = render_midi(folder / Path(piece.source).name, out_wav, piece.max_s, start_s=piece.start_s)
        ref["grid"] = "the MIDI file's tempo map and time signatures (pickup bar counted back from bar 1); rendered with fluidsynth (FluidR3_GM)"
    else:
        ref = render_chart(folder, piece, out_wav)
        ref["grid"] = "Frets on Fire notes.mid tempo map laid by the charter on the recording (song.ogg + guitar.ogg), both from time 0"
    ref.setdefault("licence", LICENCES.get(piece.package, ""))
    ref.update({"name": piece.name, "style": piece.style, "style_reason": piece.why, "package": piece.package,
                "source": "/" + piece.source, "split": split_of(piece), "split_source": piece.split_source,
                "sr": SR, "duration_s": round(ref["excerpt_s"][1] - ref["excerpt_s"][0], 4)})
    return ref


def summary(refs: list[dict]) -> str:
    lines = [f"{'style':24s} {'dev':>5s} {'held_out':>9s}"]
    for style in STYLES:
        dev = sum(1 for r in refs if r["style"] == style and r["split"] == "dev")
        held = sum(1 for r in refs if r["style"] == style and r["split"] == "held_out")
        lines.append(f"{style:24s} {dev:5d} {held:9d}")
    dev = sum(1 for r in refs if r["split"] == "dev")
    lines.append(f"{'all':24s} {dev:5d} {len(refs) - dev:9d}  ({len({r['package'] for r in refs})} packages)")
    return "\n".join(lines)


def build(cache: Path, pieces: list[Piece], do_check: bool = True) -> list[dict]:
    missing = missing_tools()
    if missing:
        raise RealMusicError(f"real_corpus: missing Debian packages; run 'apt-get install -y {' '.join(missing)} libopenmpt0'")
    folders = fetch_sources(cache, pieces)
    from real_music import fetch as fetch_modules

    modules = [t for t in TRACKS if any(p.kind == "module" and p.name == t.name for p in pieces)]
    if modules:
        fetch_modules(cache, modules)
        for t in modules:  # the copyright file beside the corpus too
            src = cache / "modules" / t.package / "copyright"
            if src.exists():
                (cache / "corpus" / "sources" / t.package).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, cache / "corpus" / "sources" / t.package / "copyright")
    refs = []
    for piece in pieces:
        json_path = cache / "corpus" / f"{piece.name}.beats.json"
        t0 = time.perf_counter()
        if json_path.exists() and (cache / "corpus" / f"{piece.name}.wav").exists():
            ref = json.loads(json_path.read_text())
            note = "cached"
        else:
            try:
                ref = build_piece(cache, piece, folders.get(piece.name))
            except (ValueError, RealMusicError) as exc:
                print(f"{piece.name:44s} SKIPPED: {exc}", flush=True)
                continue
            if do_check:
                ref["check"] = check(cache / "corpus" / f"{piece.name}.wav", ref)
            json_path.write_text(json.dumps(ref, indent=1))
            note = f"{time.perf_counter() - t0:.1f} s"
        c = ref.get("check", {})
        flag = "" if c.get("ok", True) else "  << WEAK: onsets do not favour the beats"
        print(f"{piece.name:44s} {ref['style']:22s} {ref['split']:8s} {ref['tempo_bpm'] or 0:7.2f} bpm "
              f"{'chg' if ref['tempo_changes'] else '   '} {ref['beats_per_bar']}/bar  half {c.get('half_ratio', float('nan')):.2f} "
              f"low {c.get('half_ratio_low', float('nan')):.2f} down {c.get('downbeat_ratio', float('nan')):.2f}  ({note}){flag}", flush=True)
        refs.append(ref)
    shutil.rmtree(cache / "corpus" / "work", ignore_errors=True)
    if pieces is PIECES:
        remove_stale(cache / "corpus", ".beats.json", {p.name for p in pieces})
    return refs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvgen-bench", help="folder for the packages, sources and corpus")
    parser.add_argument("--no-check", action="store_true", help="skip the onset checks (need librosa)")
    parser.add_argument("--only", nargs="*", default=None, help="build only the pieces whose names contain one of these words")
    args = parser.parse_args(argv)
    cache = args.cache.expanduser()
    pieces = PIECES if not args.only else [p for p in PIECES if any(w in p.name for w in args.only)]
    t0 = time.perf_counter()
    try:
        refs = build(cache, pieces, do_check=not args.no_check)
    except RealMusicError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(summary(refs))
    size = sum(f.stat().st_size for f in (cache / "corpus").rglob("*") if f.is_file())
    print(f"{len(refs)} pieces in {cache / 'corpus'} ({size / 1e6:.0f} MB, {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
