"""Labelled track lists for training and evaluation: the HouseX-v2 layout, or a plain CSV.

HouseX-v2 (arXiv 2409.06690) is folders of audio, each with a Label Studio export (file name
containing ``partition``; soft sub-genre weights per track) and a drop-detection file (name
containing ``detect``; drop spans per track). The CSV form is one track per row:
``path, <8 weights in GENRES order>[, drop_start_s, drop_end_s]``, with an optional header.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from mvgen.errors import MvgenError
from mvgen.genres import GENRES, HOUSEX_NAMES


@dataclass(frozen=True)
class LabelledTrack:
    """One track: its audio path, soft label (shape ``(8,)``, sums to 1) and drop spans in seconds."""

    path: Path
    weights: np.ndarray
    drops_s: list[tuple[float, float]] = field(default_factory=list)

    @property
    def dominant(self) -> str:
        return GENRES[int(np.argmax(self.weights))]


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
                weights = np.zeros(len(GENRES))
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


def read_csv(path: str | Path) -> list[LabelledTrack]:
    """Tracks of a CSV: ``path, 8 weights[, drop_start_s, drop_end_s]``; relative paths are relative to the CSV."""
    path = Path(path)
    tracks = []
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].startswith("#"):
                continue
            if line == 1 and not _is_number(row[1] if len(row) > 1 else ""):
                continue  # header
            try:
                weights = np.array([float(v) for v in row[1:9]])
            except ValueError:
                raise MvgenError(f"line {line}: weights must be numbers", path) from None
            if len(weights) != len(GENRES) or len(row) not in (9, 11):
                raise MvgenError(f"line {line}: expected path, {len(GENRES)} weights ({', '.join(GENRES)}) and optionally drop start and end", path)
            drops = [(float(row[9]), float(row[10]))] if len(row) == 11 else []
            audio = Path(row[0])
            tracks.append(LabelledTrack(audio if audio.is_absolute() else path.parent / audio, _normalized(weights, f"line {line}", path), drops))
    return tracks


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_labels(source: str | Path) -> list[LabelledTrack]:
    """Tracks from a CSV file, a HouseX-v2 folder, or a folder of HouseX-v2 folders."""
    source = Path(source)
    if source.is_file():
        return read_csv(source)
    if not source.is_dir():
        raise MvgenError("no such label file or folder", source)
    if any("partition" in p.name for p in source.glob("*.json")):
        return read_housex_folder(source)
    folders = sorted(p for p in source.iterdir() if p.is_dir() and any("partition" in q.name for q in p.glob("*.json")))
    if not folders:
        raise MvgenError("neither a CSV nor a HouseX-v2 folder (no *partition*.json found)", source)
    return [t for f in folders for t in read_housex_folder(f)]
