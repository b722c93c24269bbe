"""Track analysis: tempo, beats, downbeats, drops and sections as one typed, cached ``Analysis``.

Entry point: :func:`analyze` (options: :class:`AnalysisOptions`). The signal-only part is
:func:`analyze_signal` (a :class:`SignalAnalysis`), the genre part :func:`genre_profile`. The result is
saved as JSON with a schema version and cached by the audio file's content hash plus
:data:`ANALYSIS_VERSION`, so analyzing or rendering the same track again skips the work.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mvgen._version import __version__
from mvgen.media.audio import file_hash, load_audio, probe_audio
from mvgen.analysis.beat_model import bundled_beat_tracker
from mvgen.analysis.beats import find_downbeats, track_beats
from mvgen.analysis.drums import bundled_drum_detector
from mvgen.errors import MvgenError, validation_error
from mvgen.features import ANALYSIS_SR, frame_features
from mvgen.fileio import write_atomic
from mvgen.analysis.gates import dominant_kind, gate_spans, signal_gate
from mvgen.analysis.windows import in_spans
from mvgen.genres import OUT_OF_SCOPE
from mvgen.paths import cache_dir
from mvgen.classify.predictions import WindowPredictions, smooth_profile, track_genres, with_track_context
from mvgen.analysis.mix import drum_presence, find_track_spans
from mvgen.analysis.reactive import FEATURES_VERSION, AudioFeatures, compute_audio_features
from mvgen.analysis.structure import SECTION_LABELS, drops_from_sections, find_sections

#: Version of the JSON layout of :class:`Analysis` (2: the profile's in-scope confidence, signal spans;
#: 3: per-frame audio features; 4: the beat grid's confidence; 5: the tracks of a mix, each track's genre).
SCHEMA_VERSION = 5
#: Bumped whenever analysis results change; part of the cache key (3.2: audio features computed,
#: the beat phase from the kick, downbeats from more cues; 3.3: audio over 10 minutes gets a grid per
#: run of its tempo, where it was beatless; 4.0: beats, tempo and meter from the learned tracker
#: mvgen-beats-v1 when it is installed, its downbeat activation one more downbeat cue; 4.1: its grid starts
#: at the first onset, and the grid's confidence is kept; 5.0: the tracks of a mix, sections per track,
#: and a genre profile whose windows without drums take their track's genre; 5.1: a chord held between
#: music is music to the gates, which veto non-music without diluting music; 5.2: a drumless window takes
#: the genre of the music around it in its track, not the whole track's mean; 5.3: the beat level is chosen
#: with the learned downbeat activation's bar evidence, so some tracks get another tempo octave; 5.4: a tone run
#: between music longer than 45 s is music to the gates when its pitch moves, as a breakdown's chords do;
#: 5.5: a build-up's verdict that it is other music counts at BUILD_UP_EVIDENCE of its drum presence;
#: 5.6: the beat model is the mean of three networks, so some tracks get another tempo octave or bar phase).
ANALYSIS_VERSION = "5.6"
MIN_DURATION_S = 2.0
#: The least a window counts towards its track's genre (1 with a full kit playing): windows without drums
#: still count a little, so a track without drums anywhere (ambient) is judged by all its windows alike.
MIN_TRACK_EVIDENCE = 0.05
#: A window without drums takes the genre of the music around it in its track: its neighbours pooled with a
#: Gaussian of their distance of this sigma (s), and the whole track's pool counted as :data:`TRACK_PRIOR_MASS`
#: fully drummed windows. So a breakdown takes the genre of the drops around it, and in a track that
#: changes genre (a medley, like the demo) an outro takes the last drop's, not the whole track's mean.
CONTEXT_S = 15.0
TRACK_PRIOR_MASS = 5.0
#: How much of its drum presence a window in a build-up keeps as evidence that it is other music: snare
#: rolls, risers, filter sweeps and a kick that drops out are the devices of every kind of dance music, so a
#: build-up the model doubts takes the genre of the music around it (the drop it leads into). A build-up the
#: model is sure of keeps its own verdict, sub-genre included: its evidence is its drum presence times
#: ``BUILD_UP_EVIDENCE + (1 - BUILD_UP_EVIDENCE) * in_scope``.
BUILD_UP_EVIDENCE = 0.25


class AudioSummary(BaseModel):
    """The analyzed file: path, content hash, native format and duration (s)."""

    path: str
    content_hash: str
    sr: int
    channels: int
    duration_s: float


class TempoSpan(BaseModel):
    """A span of constant tempo, ``[start_s, end_s)``."""

    start_s: float
    end_s: float
    bpm: float


class Section(BaseModel):
    """A section ``[start_s, end_s)``: one of intro, build-up, drop, breakdown, outro."""

    start_s: float
    end_s: float
    label: str = Field(pattern="^(" + "|".join(SECTION_LABELS) + ")$")


class Drop(BaseModel):
    """A drop: a loud, full-energy span ``[start_s, end_s)``."""

    start_s: float
    end_s: float


class TrackSpan(BaseModel):
    """One track of the file, ``[start_s, end_s)``: the whole file, or one track of a DJ mix (:mod:`mvgen.analysis.mix`)."""

    start_s: float
    end_s: float


class TrackGenre(BaseModel):
    """What the genre model says of one track ``[start_s, end_s)`` as a whole: its windows pooled, those with
    drums counting most (:func:`mvgen.classify.predictions.track_genres`).

    ``probabilities``: class shares (order ``GenreProfile.labels``) if the track is in scope; ``in_scope``:
    the calibrated probability that it is. ``label`` and ``confidence`` are what a user reads: the top
    class and its share times ``in_scope``.
    """

    start_s: float
    end_s: float
    probabilities: list[float]
    in_scope: float = Field(ge=0.0, le=1.0)
    label: str
    confidence: float = Field(ge=0.0, le=1.0)


class GenreProfile(BaseModel):
    """Soft genre profile over the classifier's own classes ``labels``, one row per window centred at ``times_s[i]``.

    ``probabilities[i]``: the class shares (summing to 1, order ``labels``) *if* the window is
    within the model's classes; ``in_scope[i]``: the calibrated probability that it is (0 where the
    signal gates found silence, a tone, noise or speech). What the model says of a window is the pair.
    """

    labels: list[str]
    times_s: list[float]
    probabilities: list[list[float]]
    in_scope: list[float] = Field(description="probability per window that the audio is within the model's classes, in [0, 1]")
    model: str = Field("", description="the classifier: folder name or Hub id")
    tracks: list[TrackGenre] = Field([], description="the genre of each track of the file as a whole (one for a single track)")

    @model_validator(mode="after")
    def _shapes(self) -> "GenreProfile":
        n = len(self.times_s)
        if len(self.probabilities) != n or len(self.in_scope) != n:
            raise ValueError(f"times_s, probabilities and in_scope must have one entry per window, got {n}, {len(self.probabilities)}, {len(self.in_scope)}")
        if any(len(row) != len(self.labels) for row in self.probabilities):
            raise ValueError(f"every probability row must have one value per label ({len(self.labels)})")
        return self

    def scoped(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The profile with the out-of-scope outcome as one more class: ``(labels + ["other"], times_s
        (W,), shares (W, L + 1))``, each class's share times the window's in-scope confidence and
        ``other`` the rest; rows sum to 1. What the pictures, the page and the mapper show."""
        times_s = np.asarray(self.times_s, dtype=np.float64)
        shares = np.clip(np.asarray(self.probabilities, dtype=np.float64).reshape(len(times_s), len(self.labels)), 0.0, None)
        # The JSON stores 4 decimals, so rows sum to 1 only within ~1e-4; renormalize so shares add up.
        sums = shares.sum(axis=1, keepdims=True)
        shares = np.divide(shares, sums, out=np.full_like(shares, 1.0 / max(len(self.labels), 1)), where=sums > 0)
        confidence = np.clip(np.asarray(self.in_scope, dtype=np.float64), 0.0, 1.0)[:, None]
        return list(self.labels) + [OUT_OF_SCOPE], times_s, np.concatenate([shares * confidence, 1.0 - confidence], axis=1)


class SignalSpan(BaseModel):
    """A stretch ``[start_s, end_s)`` of one kind of signal (:data:`mvgen.analysis.gates.KINDS`): music, or what is not."""

    start_s: float
    end_s: float
    kind: str = Field(pattern="^(silence|tone|noise|speech|music)$")


class SignalAnalysis(BaseModel):
    """What :func:`analyze_signal` finds in the signal alone: the fields of :class:`Analysis` that do
    not depend on the file or the genre model. Times in seconds from the start of the signal."""

    model_config = ConfigDict(frozen=True)

    duration_s: float
    tempo_bpm: float | None = Field(None, description="dominant tempo (bpm); None when there is no steady beat")
    beat_confidence: float = Field(0.0, description="how sure the beat grid is, 0..1: the learned tracker's mean beat probability on the grid (the onset grid's sharpness score without the model); 0 for beatless audio")
    tempo_spans: list[TempoSpan] = []
    beats_per_bar: int = 4
    beats_s: list[float] = []
    downbeats_s: list[float] = []
    tracks: list[TrackSpan] = []
    sections: list[Section] = []
    drops: list[Drop] = []
    signal: list[SignalSpan] = []
    audio_features: AudioFeatures | None = None
    warnings: list[str] = []


class Analysis(BaseModel):
    """Everything later stages need to know about a track. Times are seconds from the file start."""

    schema_version: int = SCHEMA_VERSION
    analysis_version: str = ANALYSIS_VERSION
    mvgen_version: str = __version__
    audio: AudioSummary
    duration_s: float
    tempo_bpm: float | None = Field(description="dominant tempo; None when the track has no steady beat")
    beat_confidence: float = Field(0.0, description="how sure the beat grid is, 0..1: the learned tracker's mean beat probability on the grid (the onset grid's sharpness score without the model); 0 for beatless audio")
    tempo_spans: list[TempoSpan] = []
    beats_per_bar: int = 4
    beats_s: list[float] = []
    downbeats_s: list[float] = []
    tracks: list[TrackSpan] = Field([], description="the tracks the file plays: one span, or one per track of a DJ mix")
    drops: list[Drop] = []
    sections: list[Section] = []
    genre_profile: GenreProfile | None = None
    signal: list[SignalSpan] = Field([], description="what the signal gates found where: music, silence, tones, noise, speech")
    audio_features: AudioFeatures | None = Field(None, description="per-frame audio features (loudness, bands, drum onsets, tension, lead): the styles' modulation sources")
    warnings: list[str] = []

    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON (atomically: a temporary file renamed into place)."""
        return write_atomic(path, self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Analysis":
        """Read an analysis JSON; :class:`MvgenError` if it is not one of this schema version."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise MvgenError(f"cannot read analysis JSON ({exc.__class__.__name__})", path) from None
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise MvgenError(f"not an mvgen analysis of schema version {SCHEMA_VERSION}", path)
        return cls.model_validate(data)


class AnalysisOptions(BaseModel):
    """The options of :func:`analyze`, checked here and nowhere else.

    ``classifier``: the genre model, a checkpoint folder or Hugging Face Hub id; None: the bundled
    default (no profile when none is installed). ``genre_profile=False``: no genre profile at all
    (beats, drops and sections only; the CLI's ``--no-profile``). ``use_cache=False`` recomputes
    (and refreshes the cache); ``cache_directory``: the cache's root (default
    :func:`mvgen.paths.cache_dir`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_cache: bool = True
    cache_directory: Path | None = None
    classifier: str | None = Field(None, description="checkpoint folder or Hub id; None: the bundled default")
    genre_profile: bool = True

    @field_validator("classifier", mode="before")
    @classmethod
    def _classifier(cls, value):
        if isinstance(value, bool):
            raise ValueError("must be a folder or Hub id, or None for the bundled model (genre_profile=False skips the profile)")
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @classmethod
    def check(cls, path: str | os.PathLike | None = None, **options) -> "AnalysisOptions":
        """The options, or :class:`MvgenError` naming ``path`` and the first bad option."""
        try:
            return cls(**options)
        except ValidationError as exc:
            raise validation_error(exc, path, what="analyze option") from None


def _cache_path(content_hash: str, model_id: str, directory: Path | None) -> Path:
    return (directory or cache_dir()) / "analysis" / f"{content_hash[:32]}-{model_id}-{ANALYSIS_VERSION}.json"


def _resolve_classifier(options: AnalysisOptions) -> tuple[Path | None, str]:
    """The classifier folder to use (None: no genre profile) and a short id of its weights for the cache key."""
    from mvgen.classify.checkpoints import WEIGHTS_NAME, default_checkpoint, resolve_checkpoint

    if not options.genre_profile:
        return None, "noprofile"
    folder = default_checkpoint() if options.classifier is None else resolve_checkpoint(options.classifier)
    if folder is None:
        return None, "noprofile"
    return folder, file_hash(folder / WEIGHTS_NAME)[:12]


def window_predictions(y: np.ndarray, model, sr: int) -> WindowPredictions:
    """The raw (unsmoothed) window predictions of mono ``y`` (shape ``(n,)``, float32) at ``sr`` Hz by a
    model of :func:`load_genre_model` (either backend); ``y`` is resampled to the model's rate first."""
    from mvgen.classify.cpu_classifier import CpuGenreClassifier

    if model.config.sr != sr:
        import soxr

        y = soxr.resample(y, sr, model.config.sr)
    if isinstance(model, CpuGenreClassifier):
        return model.predict_profile(y)
    from mvgen.classify.classifier import predict_profile

    return predict_profile(model, y)


def genre_profile(y: np.ndarray, model, sr: int = ANALYSIS_SR, *, model_name: str = "", features=None, predictions: WindowPredictions | None = None,
                  signal: SignalAnalysis | None = None) -> GenreProfile:
    """Soft genre profile of mono audio ``y`` (shape ``(n,)``, float32) at ``sr`` Hz with a loaded
    :class:`~mvgen.classify.classifier.GenreClassifier` or :class:`~mvgen.classify.cpu_classifier.CpuGenreClassifier`;
    one window every ``model.config.step_s`` seconds.
    ``model_name`` is recorded in the profile; ``features``: :func:`~mvgen.features.frame_features`
    of ``y`` when the caller has them; ``predictions``: the model's raw window predictions of ``y``
    (before smoothing) when the caller has them.

    Context: ``signal`` (:func:`analyze_signal` of ``y``, when the caller has it) gives the tracks of the file
    and its drums. Each track's genre is its windows pooled, a window counting by its drum presence
    (:func:`mvgen.analysis.mix.drum_presence`, at least :data:`MIN_TRACK_EVIDENCE`); each window's
    prediction is then its own weighed by its drum presence, the rest the music's around it in its track
    (:data:`CONTEXT_S`, :data:`TRACK_PRIOR_MASS`)
    (:func:`mvgen.classify.predictions.with_track_context`): a breakdown of pads and piano keeps its track's
    genre, while a window with drums of other music keeps its own verdict. A build-up's doubt counts for
    less (:data:`BUILD_UP_EVIDENCE`): its rolls and risers belong to every kind of dance music. Without
    ``signal`` each window is judged alone.

    The signal gates (:func:`mvgen.analysis.gates.signal_gate`) then veto what is not music: the in-scope
    confidence of a window is multiplied by twice its music likelihood, at most 1, so silence, tones, noise
    and speech are out of scope whatever the model says, while music keeps the model's confidence.
    """
    raw = window_predictions(y, model, sr) if predictions is None else predictions
    predictions = smooth_profile(raw, model.config.step_s)
    labels = list(model.config.labels)
    tracks = []
    if signal is not None and signal.audio_features is not None and len(predictions.times_s):
        evidence = drum_presence(signal.audio_features, predictions.times_s, model.config.window_s)
        doubt_counts = BUILD_UP_EVIDENCE + (1.0 - BUILD_UP_EVIDENCE) * predictions.in_scope
        build_ups = [(section.start_s, section.end_s) for section in signal.sections if section.label == "build-up"]
        evidence = evidence * np.where(in_spans(predictions.times_s, build_ups), doubt_counts, 1.0)
        bounds = [(t.start_s, t.end_s) for t in signal.tracks] or [(0.0, len(y) / sr)]
        tracks = track_genres(predictions, np.maximum(evidence, MIN_TRACK_EVIDENCE), bounds)
        predictions = with_track_context(predictions, evidence, tracks, weights=np.maximum(evidence, MIN_TRACK_EVIDENCE), context_s=CONTEXT_S, track_mass=TRACK_PRIOR_MASS)
    gate = signal_gate(y, sr, times_s=predictions.times_s, window_s=model.config.window_s, features=features)
    # The gates veto what is not music; they do not dilute music: a window they call music (likelihood
    # 0.5 and up) keeps the model's confidence, below that it falls to 0 with the likelihood.
    music = np.clip(2.0 * gate.music_likelihood, 0.0, 1.0)
    in_scope = predictions.in_scope * music
    summaries = []
    for t in tracks:
        # The gates count here too: a track of speech or noise is not in scope whatever the model says.
        inside = (predictions.times_s >= t.start_s) & (predictions.times_s < t.end_s)
        share = float(np.mean(music[inside])) if inside.any() else 1.0
        top = int(np.argmax(t.probabilities))
        summaries.append(TrackGenre(start_s=round(t.start_s, 3), end_s=round(t.end_s, 3), probabilities=[round(float(p), 4) for p in t.probabilities],
                                    in_scope=round(t.in_scope * share, 4), label=labels[top], confidence=round(float(t.probabilities[top]) * t.in_scope * share, 4)))
    return GenreProfile(
        labels=labels,
        times_s=[round(float(t), 3) for t in predictions.times_s],
        probabilities=[[round(float(p), 4) for p in row] for row in predictions.probabilities],
        in_scope=[round(float(c), 4) for c in in_scope],
        model=model_name,
        tracks=summaries,
    )



def analyze_signal(y: np.ndarray, sr: int = ANALYSIS_SR, *, features=None, beat_model: bool = True) -> SignalAnalysis:
    """Analyze mono audio ``y`` (shape ``(n,)``, float32 at ``sr`` Hz): tempo, beats, downbeats, sections,
    drops, signal spans, per-frame audio features and warnings, the fields of :class:`Analysis` that
    depend on the signal alone. Silent, beatless and non-music audio still gets its audio features.

    ``features``: :func:`~mvgen.features.frame_features` of ``y`` when the caller has them (with
    ``detail=True``, or the audio features recompute them). ``beat_model``: beats from the bundled learned
    tracker (:mod:`mvgen.analysis.beat_model`) when it is installed; False fits the hand-made grid to the
    onset envelope alone (the earlier method, kept as the fallback and the benchmarks' baseline)."""
    duration_s = len(y) / sr
    notes: list[str] = []
    if duration_s < MIN_DURATION_S:
        notes.append(f"clip is only {duration_s:.2f} s long; beats and sections need at least {MIN_DURATION_S:.0f} s")
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak < 1e-5:
        notes.append("audio is silent")
        return SignalAnalysis(duration_s=duration_s, tempo_bpm=None, sections=[Section(start_s=0.0, end_s=duration_s, label="intro")], tracks=[TrackSpan(start_s=0.0, end_s=round(duration_s, 3))],
                              signal=[SignalSpan(start_s=0.0, end_s=round(duration_s, 3), kind="silence")],
                              audio_features=compute_audio_features(y, sr, features=features), warnings=notes)
    features = frame_features(y, sr, detail=True) if features is None else features
    tracker = bundled_beat_tracker() if beat_model and sr == ANALYSIS_SR else None
    detector = bundled_drum_detector() if sr == ANALYSIS_SR else None
    # one log-mel for both frame models when they hear alike (the bundled drum and beat models do)
    spectrogram = tracker.spectrogram(y) if tracker is not None and detector is not None and tracker.hears_like(detector) else None
    audio_features = compute_audio_features(y, sr, features=features, spectrogram=spectrogram)
    gate = signal_gate(y, sr, features=features)
    signal = [SignalSpan(start_s=round(a, 3), end_s=round(min(b, duration_s), 3), kind=k) for a, b, k in gate_spans(gate)]
    kind = dominant_kind(gate)
    if kind != "music":  # a test tone, noise, speech or near-silence: no beat grid, no drops
        article = "" if kind in ("silence", "noise", "speech") else "a steady "
        notes.append(f"audio is {article}{kind}; analyzed as beatless")
        return SignalAnalysis(duration_s=duration_s, tempo_bpm=None, sections=[Section(start_s=0.0, end_s=duration_s, label="intro")], tracks=[TrackSpan(start_s=0.0, end_s=round(duration_s, 3))], signal=signal,
                              audio_features=audio_features, warnings=notes)
    activations = tracker.activations(y, spectrogram=spectrogram) if tracker is not None else None
    del spectrogram
    grid = track_beats(features, duration_s, y, activations)
    notes.extend(grid.warnings)
    downbeats, beats_per_bar = find_downbeats(y, features, grid.beats_s, activations) if grid.tempo_bpm else (grid.beats_s, 4)
    tracks = find_track_spans(y, sr, features, audio_features, grid.beats_s)
    spans = []
    for start_s, end_s in tracks:  # each track of a mix gets its own intro, drops and breakdowns
        beats, bars = (np.asarray(x) for x in (grid.beats_s, downbeats))
        spans += find_sections(features, beats[(beats >= start_s) & (beats < end_s)], bars[(bars >= start_s) & (bars < end_s)], end_s, start_s=start_s)
    return SignalAnalysis(
        duration_s=duration_s,
        tempo_bpm=None if grid.tempo_bpm is None else round(grid.tempo_bpm, 3),
        beat_confidence=round(grid.confidence, 3) if grid.tempo_bpm else 0.0,
        tempo_spans=[TempoSpan(start_s=s.start_s, end_s=min(s.end_s, duration_s), bpm=round(s.bpm, 3)) for s in grid.segments],
        beats_per_bar=beats_per_bar,
        beats_s=[round(float(t), 4) for t in grid.beats_s],
        downbeats_s=[round(float(t), 4) for t in downbeats],
        tracks=[TrackSpan(start_s=a, end_s=b) for a, b in tracks],
        sections=[Section(start_s=round(s.start_s, 4), end_s=round(s.end_s, 4), label=s.label) for s in spans],
        drops=[Drop(start_s=round(a, 4), end_s=round(b, 4)) for a, b in drops_from_sections(spans)],
        signal=signal,
        audio_features=audio_features,
        warnings=notes,
    )


def load_genre_model(folder: Path):
    """The genre classifier of ``folder``: the numpy inference unless a CUDA GPU can be used
    (:func:`mvgen.classify.cpu_classifier.classifier_backend`), so a CPU-only analysis never imports torch."""
    from mvgen.classify.cpu_classifier import classifier_backend, load_cpu_classifier

    if classifier_backend() == "numpy":
        return load_cpu_classifier(folder)
    from mvgen.classify.classifier import load_classifier

    return load_classifier(folder)


_genre_profile = genre_profile  # analyze's keyword of the same name hides the function there


def analyze(
    path: str | os.PathLike,
    *,
    classifier: str | os.PathLike | None = None,
    genre_profile: bool = True,
    use_cache: bool = True,
    cache_directory: str | os.PathLike | None = None,
) -> Analysis:
    """Analyze the audio file at ``path`` (any format :func:`mvgen.media.audio.load_audio` decodes).

    ``classifier``: a checkpoint folder or Hub id for the genre profile; None uses the bundled
    default when installed. ``genre_profile=False`` skips the profile (``Analysis.genre_profile`` is
    None). Results are cached by content hash, classifier weights and :data:`ANALYSIS_VERSION`;
    ``use_cache=False`` recomputes (and refreshes the cache); ``cache_directory`` overrides the
    cache's root. The options are checked by :class:`AnalysisOptions`. Raises :class:`MvgenError`
    for unreadable input or a bad option.
    """
    options = AnalysisOptions.check(path, classifier=classifier, genre_profile=genre_profile, use_cache=use_cache, cache_directory=cache_directory)
    info = probe_audio(path)
    content_hash = file_hash(path)
    classifier_dir, model_id = _resolve_classifier(options)
    model_name = "" if classifier_dir is None else (options.classifier or classifier_dir.name)
    cached = _cache_path(content_hash, model_id, options.cache_directory)
    analysis = None
    if options.use_cache and cached.is_file():
        try:
            analysis = Analysis.load(cached)
            if analysis.audio_features is None or analysis.audio_features.version != FEATURES_VERSION:
                raise MvgenError("cached analysis lacks this version's audio features", cached)
            analysis = analysis.model_copy(update={"audio": analysis.audio.model_copy(update={"path": str(path)})})
        except (MvgenError, ValueError):
            analysis = None  # stale or damaged cache entry: recompute
    if analysis is None:
        profile = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The model loads while the audio decodes (importing torch and nnAudio, on the GPU path,
            # takes longer than decoding and the beat analysis of a whole track), then the classifier
            # runs beside the beat analysis: both mostly run outside the GIL, on different cores.
            model = pool.submit(load_genre_model, classifier_dir) if classifier_dir is not None else None
            y = load_audio(path, sr=ANALYSIS_SR, mono=True)
            predictions = pool.submit(lambda: window_predictions(y, model.result(), ANALYSIS_SR)) if model is not None and len(y) else None
            features = frame_features(y, ANALYSIS_SR, detail=True) if len(y) else None
            found = analyze_signal(y, ANALYSIS_SR, features=features)
            if predictions is not None and found.duration_s > 0:
                profile = _genre_profile(y, model.result(), model_name=model_name, features=features, predictions=predictions.result(), signal=found)
        del y
        summary = AudioSummary(path=str(path), content_hash=content_hash, sr=info.sr, channels=info.channels, duration_s=info.duration_s)
        analysis = Analysis(audio=summary, genre_profile=profile, **dict(found))
        try:
            analysis.save(cached)
        except OSError:
            pass  # a read-only cache must not stop the analysis
    for note in analysis.warnings:
        warnings.warn(f"{path}: {note}", stacklevel=2)
    return analysis
