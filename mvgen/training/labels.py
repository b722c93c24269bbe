"""Labelled track lists for training and evaluation: the HouseX-v2 layout, or a plain CSV with any classes.

HouseX-v2 (arXiv 2409.06690) is folders of audio, each with a Label Studio export (file name
containing ``partition``; soft sub-genre weights per track) and a drop-detection file (name
containing ``detect``; drop spans per track); its classes are :data:`~mvgen.genres.GENRES`.

A CSV names its own classes, one track per row, in one of two forms:

* soft: a header ``path,<class>,<class>,...[,drop_start_s,drop_end_s]`` and a weight per class;
* hard: a header ``path,label[,drop_start_s,drop_end_s]`` and one class name per row.

A class called ``other`` (:data:`~mvgen.genres.OUT_OF_SCOPE`) marks audio outside the classes:
negatives for the model's out-of-scope outcome. The old headerless form ``path, 8 weights[, drop
start, drop end]`` (the HouseX-v2 classes in :data:`~mvgen.genres.GENRES` order) still reads.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from mvgen.errors import MvgenError
from mvgen.genres import GENRES, HOUSEX_NAMES, OUT_OF_SCOPE, check_labels, normalize_key


@dataclass(frozen=True)
class LabelledTrack:
    """One track: its audio path, soft label over ``outputs`` (the classes, then ``other``; shape
    ``(len(outputs),)``, sums to 1) and drop spans in seconds."""

    path: Path
    weights: np.ndarray
    drops_s: list[tuple[float, float]] = field(default_factory=list)
    outputs: tuple[str, ...] = tuple(GENRES) + (OUT_OF_SCOPE,)

    @property
    def dominant(self) -> str:
        return self.outputs[int(np.argmax(self.weights))]


@dataclass(frozen=True)
class LabelSet:
    """Labelled tracks and the classes they are labelled with (without ``other``, which every set may use)."""

    labels: tuple[str, ...]
    tracks: list[LabelledTrack]

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.labels + (OUT_OF_SCOPE,)


def _base_name(path: str) -> str:
    # Exports carry paths from the annotator's machine, POSIX or Windows; only the name matters.
    return PureWindowsPath(path).name if "\\" in path else PurePosixPath(path).name


def _normalized(weights: np.ndarray, where: str, source: Path) -> np.ndarray:
    total = float(weights.sum())
    if total <= 0 or np.any(weights < 0):
        raise MvgenError(f"{where}: sub-genre weights must be >= 0 with a positive sum", source)
    return weights / total


def read_housex_folder(folder: str | Path) -> list[LabelledTrack]:
    """Tracks of one HouseX-v2 folder: Label Studio ``*partition*.json`` plus ``*detect*.json`` drops."""
    folder = Path(folder)
    exports = sorted(p for p in folder.glob("*.json") if "partition" in p.name)
    if not exports:
        raise MvgenError("no Label Studio export (*partition*.json) in this folder", folder)
    drops: dict[str, list[tuple[float, float]]] = {}
    for detect in sorted(p for p in folder.glob("*.json") if "detect" in p.name):
        for item in _load_json_list(detect):
            try:
                drops[_base_name(item["audio_path"])] = [(float(a), float(b)) for a, b in item.get("drop_sections", [])]
            except (KeyError, TypeError, ValueError):
                raise MvgenError(f"drop item without audio_path/drop_sections: {str(item)[:80]}", detect) from None
    tracks = []
    for export in exports:
        for n, item in enumerate(_load_json_list(export)):
            try:
                name = _base_name(item["data"]["audio"])
                results = item["annotations"][0]["result"]
                weights = np.zeros(len(GENRES) + 1)
                for r in results:
                    if r["from_name"] not in HOUSEX_NAMES:
                        raise MvgenError(f"item {n}: unknown class {r['from_name']!r}; valid: {', '.join(HOUSEX_NAMES)}", export)
                    weights[GENRES.index(HOUSEX_NAMES[r["from_name"]])] += float(r["value"]["number"])
            except (KeyError, IndexError, TypeError, ValueError):
                raise MvgenError(f"item {n}: expected data.audio and annotations[0].result[*].from_name/value.number", export) from None
            tracks.append(LabelledTrack(folder / name, _normalized(weights, f"item {n}", export), drops.get(name, [])))
    return tracks


def _load_json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MvgenError(f"cannot read JSON ({exc.__class__.__name__})", path) from None
    if not isinstance(data, list):
        raise MvgenError("expected a JSON list of items", path)
    return data


def read_csv(path: str | Path) -> LabelSet:
    """Tracks of a CSV (see the module docstring); relative paths are relative to the CSV."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [(n, row) for n, row in enumerate(csv.reader(fh), start=1) if row and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise MvgenError(f"cannot read the label file ({exc.__class__.__name__})", path) from None
    if not rows:
        raise MvgenError("no labelled tracks", path)
    first_line, header = rows[0]
    if len(header) > 1 and _is_number(header[1]):  # the old headerless form: 8 weights in GENRES order
        header, body = ["path", *GENRES] + (["drop_start_s", "drop_end_s"] if len(header) == 11 else []), rows
    else:
        header, body = [h.strip() for h in header], rows[1:]
    columns = header[1:]
    drops = columns[-2:] == ["drop_start_s", "drop_end_s"]
    if drops:
        columns = columns[:-2]
    hard = [normalize_key(c) for c in columns] == ["label"]
    tracks: list[LabelledTrack] = []
    if hard:
        names = [(line, row[1].strip()) for line, row in body if len(row) > 1]
        classes = [normalize_key(name) for _, name in names]
        labels = _classes(sorted({c for c in classes if c != OUT_OF_SCOPE}, key=classes.index), path, first_line)
    else:
        keys = [normalize_key(c) for c in columns]
        labels = _classes([k for k in keys if k != OUT_OF_SCOPE], path, first_line)
    outputs = labels + (OUT_OF_SCOPE,)
    width = len(header)
    for line, row in body:
        if len(row) not in (width, width - 2 if drops else width):
            expected = f"path, {'a class name' if hard else ', '.join(columns)}" + (" and optionally drop start and end" if drops else "")
            raise MvgenError(f"line {line}: expected {expected} ({width} columns), got {len(row)}", path)
        weights = np.zeros(len(outputs))
        if hard:
            weights[outputs.index(normalize_key(row[1]))] = 1.0
        else:
            try:
                values = [float(v) for v in row[1 : 1 + len(columns)]]
            except ValueError:
                raise MvgenError(f"line {line}: weights must be numbers", path) from None
            for key, value in zip(keys, values):
                weights[outputs.index(key)] += value
        spans = []
        if drops and len(row) == width:
            try:
                spans = [(float(row[-2]), float(row[-1]))]
            except ValueError:
                raise MvgenError(f"line {line}: drop start and end must be numbers (s)", path) from None
        audio = Path(row[0].strip())
        tracks.append(LabelledTrack(audio if audio.is_absolute() else path.parent / audio, _normalized(weights, f"line {line}", path), spans, outputs))
    return LabelSet(labels, tracks)


def _classes(names: list[str], path: Path, line: int) -> tuple[str, ...]:
    try:
        return check_labels(names)
    except ValueError as exc:
        raise MvgenError(f"line {line}: {exc}", path) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_labels(source: str | Path, *, check_audio: bool = False) -> LabelSet:
    """Tracks from a CSV file, a HouseX-v2 folder, or a folder of HouseX-v2 folders.

    ``check_audio``: also refuse a set without tracks and read every track's audio header
    (:func:`mvgen.media.audio.probe_audio`), so a bad file is an error naming it before any long decoding."""
    label_set = _read_labels(Path(source))
    if check_audio:
        from mvgen.media.audio import probe_audio

        if not label_set.tracks:
            raise MvgenError("no labelled tracks", source)
        for track in label_set.tracks:
            probe_audio(track.path)
    return label_set


def _read_labels(source: Path) -> LabelSet:
    if source.is_file():
        return read_csv(source)
    if not source.is_dir():
        raise MvgenError("no such label file or folder", source)
    if any("partition" in p.name for p in source.glob("*.json")):
        return LabelSet(tuple(GENRES), read_housex_folder(source))
    folders = sorted(p for p in source.iterdir() if p.is_dir() and any("partition" in q.name for q in p.glob("*.json")))
    if not folders:
        raise MvgenError("neither a CSV nor a HouseX-v2 folder (no *partition*.json found)", source)
    return LabelSet(tuple(GENRES), [t for f in folders for t in read_housex_folder(f)])
