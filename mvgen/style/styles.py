"""Per-class visual styles: the schema, YAML files, validation with one-line errors, init.

Every class of the genre model (the 8 HouseX-v2 sub-genres of :data:`mvgen.genres.GENRES` by
default, or a user model's own classes) has one style ``<class>.yaml`` holding its diffusion prompt,
palette, camera motion and procedural motifs, and so has the out-of-scope outcome
(``other.yaml``: a neutral look that the audio drives, used as far as the model is unsure). Users
override them with a folder of (possibly partial) YAML files or a single file: a partial file
changes only the fields it gives and inherits the rest from the default style of its class. A class
without a shipped default starts from :func:`starter_style` (the neutral style with its own palette).

The renderer blends the styles per frame by the track's soft genre weights: that hot path lives in
:mod:`mvgen.style.blend` (:class:`~mvgen.style.blend.StyleTable`, arrays precomputed once, no pydantic per
frame).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from mvgen.style.colors import hex_colour, hex_to_rgb
from mvgen.errors import MvgenError, field_name, validation_problem
from mvgen.style.framespec import MOTIFS
from mvgen.paths import default_styles_dir
from mvgen.fileio import write_atomic
from mvgen.safe_yaml import compose_yaml, load_yaml
from mvgen.genres import GENRES, OUT_OF_SCOPE, display_name, normalize_key
from mvgen.analysis.reactive import SOURCES


#: How often a style's frames change seed (``FrameSpec.seed``: the diffusion renderer's fixed noise
#: and anchor picture, the procedural renderer's variations): once per track, at every section
#: start, or on every downbeat. The mapper follows the policy of the dominant style.
SEED_POLICIES = ("per-track", "per-section", "per-bar")

_SUFFIXES = (".yaml", ".yml")

Number = Annotated[float, Strict()]  # ints are fine, strings and booleans are not
Text = Annotated[str, Strict()]


HexColour = Annotated[str, Strict(), AfterValidator(hex_colour)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Diffusion(_Model):
    """Stable Diffusion settings of a style."""

    prompt: Text = Field(min_length=1, description="visual prompt")
    negative_prompt: Text = Field("", description="what to avoid")
    strength: tuple[Number, Number] = Field(description="min, max denoising strength: low in calm parts, high on drops")
    seed_policy: Literal[SEED_POLICIES] = Field("per-section", description="how often the seed changes: per-track, per-section or per-bar")  # type: ignore[valid-type]

    @field_validator("strength")
    @classmethod
    def _strength(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
            raise ValueError(f"[{low:g}, {high:g}] is out of range (allowed: [min, max] with 0 <= min <= max <= 1)")
        if low > high:
            raise ValueError(f"min {low:g} is above max {high:g} (allowed: [min, max] with 0 <= min <= max <= 1)")
        return (float(low), float(high))


class Palette(_Model):
    """Colours of a style, as ``#rrggbb`` strings (normalized to lower case)."""

    colors: list[HexColour] = Field(min_length=3, max_length=6)
    background: HexColour

    def rgb(self) -> list[tuple[float, float, float]]:
        """The colours as sRGB tuples in [0, 1]."""
        return [hex_to_rgb(c) for c in self.colors]


class Motion(_Model):
    """Camera motion; ``reactivity`` scales every effect."""

    zoom_per_beat: Number = Field(ge=0.0, le=0.3, description="zoom pulse on each beat")
    rotation_deg_per_bar: Number = Field(ge=-90.0, le=90.0, description="rotation per bar (degrees)")
    drift: Number = Field(ge=0.0, le=1.0, description="camera drift amount")
    shake_on_kick: Number = Field(ge=0.0, le=1.0, description="shake on kicks")
    flash_on_drop: Number = Field(ge=0.0, le=1.0, description="white flash when a drop lands")
    strobe: Number = Field(ge=0.0, le=1.0, description="strobe on drops")
    reactivity: Number = Field(ge=0.0, le=2.0, description="scales all motion")


MOTION_FIELDS: tuple[str, ...] = tuple(Motion.model_fields)


# --------------------------------------------------------------------------- modulation

#: What each modulation target changes and the allowed amount range: ``name -> (low, high, meaning)``.
#: An amount is what the target moves by when its source is at 1 (sources are in [0, 1]); every
#: amount applies as an offset, added to the unmodulated value (``value = base + amount * source``,
#: summed over the sources that name the target), so where every source is 0 the value is exactly
#: the unmodulated one. The mapper (:mod:`mvgen.style.mapper`) clamps the results (its ``*_RANGE`` constants).
MODULATION_TARGETS: dict[str, tuple[float, float, str]] = {
    "zoom": (-0.5, 0.5, "camera zoom factor (0.02: 2 % closer)"),
    "rotation": (-90.0, 90.0, "camera rotation, degrees"),
    "drift": (-2.0, 2.0, "camera drift amount, in units of motion.drift (1: the full slow wander)"),
    "shake": (0.0, 2.0, "camera shake, in units of motion.shake_on_kick (1: 2 % of the frame height), a new direction every frame"),
    "flash": (-1.0, 1.0, "white flash, 0..1"),
    "brightness": (-1.0, 2.0, "brightness gain (1 is unchanged; 0.3: 30 % brighter)"),
    "hue": (-180.0, 180.0, "hue shift of the palette (procedural) or the picture (diffusion), degrees"),
    **{m: (-2.0, 2.0, f"{m} motif intensity, added to its drawn weight (1: a motif at full weight); it can bring in a motif the style does not draw") for m in MOTIFS},
    "speed": (-2.0, 2.0, "procedural speed of every motif, cycles per beat"),
    "density": (-1.0, 1.0, "procedural density of every motif, 0..1"),
    **{f"{m}.speed": (-2.0, 2.0, f"speed of the {m} motif only, cycles per beat") for m in MOTIFS},
    **{f"{m}.density": (-1.0, 1.0, f"density of the {m} motif only, 0..1") for m in MOTIFS},
    "strength": (-1.0, 1.0, "diffusion denoising strength, 0..1, added to the strength the style's range gives"),
    "prompt": (-2.0, 2.0, "this style's prompt weight in the blended prompt embedding, as a gain (1 is unchanged; 0.5: 50 % more of this prompt)"),
    "logo": (-1.0, 2.0, "pulse of the branding logo: its opacity and brightness as a gain (1 is unchanged; 0.25: a logo at rest at 80 % turns fully opaque)"),
}
#: Every modulation target a style may name, in the order of :attr:`mvgen.style.blend.StyleTable.modulation`'s last axis.
TARGETS: tuple[str, ...] = tuple(MODULATION_TARGETS)

Source = Literal[SOURCES]  # type: ignore[valid-type]
Target = Literal[TARGETS]  # type: ignore[valid-type]


class Procedural(_Model):
    """Procedural renderer settings: weighted motifs, speed (cycles per beat) and density."""

    motifs: dict[Literal[MOTIFS], Annotated[Number, Field(ge=0.0)]] = Field(description="motif weights")  # type: ignore[valid-type]
    speed: Number = Field(ge=0.0, le=2.0, description="cycles per beat")
    density: Number = Field(ge=0.0, le=1.0)

    @field_validator("motifs")
    @classmethod
    def _some_motif(cls, value: dict[str, float]) -> dict[str, float]:
        if not any(w > 0 for w in value.values()):
            raise ValueError(f"at least one motif needs a weight > 0 (allowed: {', '.join(MOTIFS)})")
        return {m: float(w) for m, w in value.items()}


class Style(_Model):
    """The visual style of one class of the genre model, or of :data:`~mvgen.genres.OUT_OF_SCOPE` (one YAML file)."""

    genre: Text = Field(min_length=1, description="class key (normalized: 'Drum & Bass' -> 'drum_and_bass')")
    name: Text = Field(min_length=1, description="display name")
    diffusion: Diffusion
    palette: Palette
    motion: Motion
    procedural: Procedural
    modulate: dict[Source, dict[Target, Number]] = Field(
        default_factory=dict,
        description=(
            "modulation matrix: source -> {target: amount}, e.g. {kick: {zoom: 0.02}, high: {lasers: 0.8}}. "
            f"Sources (each in [0, 1] per frame): {', '.join(SOURCES)} (the audio features of mvgen.analysis.reactive; "
            "beat and downbeat pulse on the grid, bar ramps 0 -> 1 over each bar; kick, snare, hats, beat and "
            "downbeat punch on their frame and decay). Each amount is added to its target times the source "
            "(see MODULATION_TARGETS for every target's unit and range). A user file's modulate replaces the "
            "default matrix as a whole ({} clears it)."
        ),
        # each target's allowed amounts and meaning, in the schema too, so editors read them from it
        json_schema_extra={"x-target-ranges": {target: {"minimum": low, "maximum": high, "meaning": meaning} for target, (low, high, meaning) in MODULATION_TARGETS.items()}},
    )

    @field_validator("genre")
    @classmethod
    def _genre(cls, value: str) -> str:
        return normalize_key(value)

    @field_validator("modulate")
    @classmethod
    def _amounts(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for source, row in value.items():
            for target, amount in row.items():
                low, high, meaning = MODULATION_TARGETS[target]
                if not low <= amount <= high:
                    raise ValueError(f"{source}.{target}: {amount:g} is out of range (allowed: {low:g}..{high:g}, {meaning})")
        return {source: {target: float(amount) for target, amount in row.items()} for source, row in value.items()}


# --------------------------------------------------------------------------- files


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MvgenError("no such style file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MvgenError(f"cannot read the style file ({exc.__class__.__name__}: {exc})".replace("\n", " "), path) from None


def load_style_file(path: str | os.PathLike) -> dict:
    """The raw mapping of a style file (:func:`mvgen.safe_yaml.load_yaml`: safe, aliases limited; an empty
    file gives ``{}``).

    Raises :class:`MvgenError` naming the file (and line, for YAML syntax errors) when the file
    cannot be read, is not valid YAML, expands beyond the limits or does not hold a mapping.
    """
    path = Path(path)
    data = load_yaml(_read_text(path), str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MvgenError(f"a style file must hold a mapping of fields ({', '.join(Style.model_fields)}), not a {type(data).__name__}", f"{path}:1")
    return data


def _key_lines(path: Path | None) -> dict[tuple, int]:
    """Line number (1-based) of every key path of a YAML file: ``{("motion", "drift"): 12, ...}``."""
    lines: dict[tuple, int] = {(): 1}
    if path is None:
        return lines
    try:
        root = compose_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, MvgenError):
        return lines

    def walk(node: yaml.Node, prefix: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines.setdefault(prefix + (key,), key_node.start_mark.line + 1)
                walk(value_node, prefix + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(prefix + (i,), item.start_mark.line + 1)
                walk(item, prefix + (i,))

    if root is not None:
        walk(root, ())
    return lines


#: Mappings a partial style file replaces as a whole instead of merging into the default: a motif
#: table or a modulation matrix is one choice, and merging would keep routings the file does not show.
_REPLACED = (("procedural", "motifs"), ("modulate",))


def _merge(base: dict, update: Mapping, prefix: tuple = ()) -> dict:
    """Deep merge: mappings merge key by key; other values (lists) and :data:`_REPLACED` tables replace."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        path = prefix + (key,)
        if isinstance(value, Mapping) and isinstance(old, dict) and path not in _REPLACED:
            merged[key] = _merge(old, value, path)
        else:
            merged[key] = value
    return merged


def _field_at(loc: tuple) -> tuple[type[BaseModel] | None, Any]:
    """The model holding the last field of ``loc`` and that field's FieldInfo (or None)."""
    model: Any = Style
    info = None
    owner: type[BaseModel] | None = None
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(part, str) and part in model.model_fields:
            owner, info = model, model.model_fields[part]
            model = info.annotation
        else:
            return owner, None
    return owner, info


def _owner_model(loc: tuple) -> type[BaseModel] | None:
    model: Any = Style
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(part, str) and part in model.model_fields:
            model = model.model_fields[part].annotation
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _bounds(loc: tuple) -> tuple[float | None, float | None]:
    _, info = _field_at(loc)
    low = high = None
    for meta in getattr(info, "metadata", []) if info is not None else []:
        low = getattr(meta, "ge", getattr(meta, "gt", low))
        high = getattr(meta, "le", getattr(meta, "lt", high))
        low = getattr(meta, "min_length", low)
        high = getattr(meta, "max_length", high)
    return low, high


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: dict) -> tuple[tuple, str]:
    """A pydantic error as (field path, one-line problem)."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        if loc[:2] == ("procedural", "motifs"):
            return loc, f"unknown motif {value!r} (allowed: {', '.join(MOTIFS)})"
        if loc[:1] == ("modulate",) and len(loc) == 2:  # pydantic's key location: (field, the key itself)
            return loc, f"unknown modulation source {value!r} (allowed: {', '.join(SOURCES)})"
        if loc[:1] == ("modulate",) and len(loc) == 3:
            return loc, f"unknown modulation target {value!r} (allowed: {', '.join(TARGETS)})"
        return loc, f"invalid key {value!r}"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "extra_forbidden":
        owner = _owner_model(loc[:-1])
        allowed = f" (allowed: {', '.join(owner.model_fields)})" if owner else ""
        return loc, f"unknown field{allowed}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(loc)
        low = ctx.get("ge", ctx.get("gt", low))
        high = ctx.get("le", ctx.get("lt", high))
        if low is not None and high is not None:
            allowed = f"{low:g}..{high:g}"
        elif low is not None:
            allowed = f">= {low:g}"
        else:
            allowed = f"<= {high:g}"
        return loc, f"{_show(value)} is out of range (allowed: {allowed})"
    if kind in ("too_short", "too_long"):
        low, high = _bounds(loc)
        count = ctx.get("actual_length", len(value) if hasattr(value, "__len__") else "?")
        allowed = f"{low}..{high} items" if low is not None and high is not None else error["msg"]
        if kind == "too_short" and ctx.get("min_length") == 1 and isinstance(value, str):
            return loc, "must not be empty"
        return loc, f"has {count} items (allowed: {allowed})"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        allowed = ", ".join(part.strip(" '") for part in expected.replace(" or ", ", ").split(","))
        return loc, f"{_show(value)} is not allowed (allowed: {allowed})"
    if kind in ("value_error", "assertion_error"):
        message = validation_problem(error)
        if loc == ("modulate",) and ": " in message:  # "<source>.<target>: ..." from Style._amounts: point at that entry
            where, message = message.split(": ", 1)
            source, target = where.split(".", 1)
            return loc + (source, target), message
        return loc, message
    message = error["msg"].replace("Input should be", "should be")
    return loc, f"{message}, got {type(value).__name__} {_show(value)}"


def _style_problems(data: Any, path: Path | None, base: Style | None, allowed: Sequence[str] = (), name: str | None = None) -> tuple[Style | None, list[tuple[str, str]]]:
    """Validate ``data`` (merged onto ``base``): the style, or None and its problems as (where, text).
    ``name`` names the style in the problems when there is no ``path`` (default ``<style>``)."""
    name = str(path) if path is not None else (name or "<style>")
    if not isinstance(data, Mapping):
        return None, [(f"{name}:1", f"a style must be a mapping of fields ({', '.join(Style.model_fields)}), not a {type(data).__name__}")]
    merged = _merge(base.model_dump(), data) if base is not None else dict(data)
    lines = _key_lines(path)
    problems: list[tuple[int, str, str]] = []
    style = None
    try:
        style = Style.model_validate(merged)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc, text = _describe(error)
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
            field = field_name(loc) or "(file)"
            problems.append((line, f"{name}:{line}", " ".join(f"{field}: {text}".split())))
        problems.sort(key=lambda problem: problem[0])  # file order (stable for problems on one line)
    if style is not None and path is not None and path.stem in allowed and style.genre != path.stem:
        line = lines.get(("genre",), 1)
        problems.append((line, f"{name}:{line}", f"genre: {style.genre!r} does not match the file name {path.name!r} (allowed: {path.stem})"))
        style = None
    return style, [(where, text) for _, where, text in problems]


def parse_style(data: Mapping, path: str | os.PathLike | None = None, base: Style | None = None, allowed: Sequence[str] = ()) -> Style:
    """Validate a style mapping read from ``path`` (used for messages and line numbers).

    With ``base``, ``data`` may be partial: mappings merge deeply, so only the given fields change
    (``palette.colors``, ``procedural.motifs`` and ``modulate`` are replaced as a whole). Raises
    :class:`MvgenError` with one line ``"<file>:<line>: <field.path>: <problem> (allowed: ...)"``.
    """
    style, problems = _style_problems(data, None if path is None else Path(path), base, allowed or style_keys())
    if problems:
        where, text = problems[0]
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}: run `mvgen styles validate {where.rsplit(':', 1)[0]}`)"
        raise MvgenError(text, where)
    assert style is not None
    return style


def style_problems(data: Any, base: Style, name: str, *, allowed: Sequence[str] = ()) -> tuple[Style | None, list[str]]:
    """``data`` (a whole or partial style, as a YAML file would hold it) merged onto ``base`` and checked as
    ``mvgen styles validate`` checks a file: ``(style, [])``, or ``(None, problems)`` with one line each
    (``"<name>:1: <field.path>: <problem> (allowed: ...)"``)."""
    style, problems = _style_problems(data, None, base, allowed, name=name)
    return style, [f"{where}: {text}" for where, text in problems]


def style_files_by_key(folder: str | os.PathLike, *, labels: Sequence[str] = GENRES) -> dict[str, Path]:
    """The style file of ``folder`` that styles each class (the last in name order, as :func:`load_styles`
    applies them); files that cannot be read are left out (``mvgen styles validate`` names them)."""
    folder = Path(folder)
    keys = style_keys(labels)
    found: dict[str, Path] = {}
    for path in _style_files(folder) if folder.is_dir() else []:
        try:
            found[_target_genre(load_style_file(path), path, keys)] = path
        except MvgenError:
            continue
    return found


def style_changes(old: Style, new: Style) -> list[tuple[tuple, Any]]:
    """``(field path, new value)`` of every field where ``new`` differs from ``old``: leaves, except that lists
    and the tables a file replaces as a whole (``procedural.motifs``, ``modulate``) come whole."""
    def walk(a: Any, b: Any, prefix: tuple) -> list[tuple[tuple, Any]]:
        if isinstance(a, Mapping) and isinstance(b, Mapping) and prefix not in _REPLACED:
            return [change for key, value in b.items() for change in walk(a.get(key), value, prefix + (key,))]
        return [] if a == b else [(prefix, b)]

    return walk(old.model_dump(mode="json"), new.model_dump(mode="json"), ())


def update_style_file(path: str | os.PathLike, changes: Sequence[tuple[tuple, Any]], key: str) -> Path:
    """Write ``changes`` (``(field path, new value)``, e.g. ``(("palette", "colors"), [...])``) into the style
    file at ``path`` (created with ``genre: key`` when missing), atomically, keeping an existing file's
    comments, order and other fields (ruamel.yaml round trip). Returns the path."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    path = Path(path)
    rt = YAML(typ="rt")
    rt.width = 100
    doc = None
    if path.is_file():
        text = _read_text(path)
        compose_yaml(text, str(path))  # the limits of user YAML before the round-trip loader reads it
        doc = rt.load(text)
    if not isinstance(doc, dict):
        doc = CommentedMap([("genre", key)])
    for field_path, value in changes:
        node = doc
        for part in field_path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = CommentedMap()
            node = node[part]
        node[field_path[-1]] = list(value) if isinstance(value, tuple) else value
    buffer = io.StringIO()
    rt.dump(doc, buffer)
    return write_atomic(path, buffer.getvalue())


def _style_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file() and not p.name.startswith("."))


def style_keys(labels: Sequence[str] = GENRES) -> tuple[str, ...]:
    """The keys a set of styles has for a model with classes ``labels``: the classes, then :data:`OUT_OF_SCOPE`."""
    return tuple(labels) + (OUT_OF_SCOPE,)


def _allowed(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def _target_genre(data: Mapping, path: Path, keys: Sequence[str]) -> str:
    """The class an override file changes: its ``genre`` field, else its file name; one of ``keys``."""
    if "genre" in data:
        key = normalize_key(str(data["genre"]))
        if key not in keys:
            line = _key_lines(path).get(("genre",), 1)
            raise MvgenError(f"genre: the model has no class {data['genre']!r} (allowed: {_allowed(keys)})", f"{path}:{line}")
        return key
    key = normalize_key(path.stem)
    if key not in keys:
        raise MvgenError(f"genre: cannot tell which class this file styles: the model has no class {path.stem!r}; add `genre: <key>` or name the file <key>.yaml (allowed: {_allowed(keys)})", f"{path}:1")
    return key


#: How far (degrees of hue) a class without a default style turns the neutral palette, at most.
_STARTER_HUE_RANGE_DEG = 360.0


def starter_style(key: str, neutral: Style) -> Style:
    """A first style for a class that has no default: the neutral (out-of-scope) style's motion and
    motifs, its palette turned to a hue of the class's own (stable per name), and a prompt naming it.

    ``mvgen styles init DIR --classifier MODEL`` writes these for editing.
    """
    import colorsys
    import zlib

    turn = (zlib.crc32(key.encode()) % 1000) / 1000.0 * _STARTER_HUE_RANGE_DEG / 360.0

    def turned(colour: str) -> str:
        h, l, s = colorsys.rgb_to_hls(*hex_to_rgb(colour))
        r, g, b = colorsys.hls_to_rgb((h + turn) % 1.0, l, max(s, 0.45) if l > 0.1 else s)
        return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))

    name = display_name(key)
    data = neutral.model_dump()
    data.update(genre=key, name=name)
    data["palette"] = {"colors": [turned(c) for c in neutral.palette.colors], "background": turned(neutral.palette.background)}
    data["diffusion"]["prompt"] = f"{name} music, " + neutral.diffusion.prompt
    return Style.model_validate(data)


def _default_style(key: str, folder: Path, neutral: Style | None) -> Style:
    path = folder / f"{key}.yaml"
    if path.is_file():
        return parse_style(load_style_file(path), path)
    if neutral is None or key == OUT_OF_SCOPE:
        raise MvgenError(f"the default style of {key} is missing (set MVGEN_STYLES_DIR or reinstall mvgen)", path)
    return starter_style(key, neutral)


def _load_defaults(labels: Sequence[str] = GENRES, folder: Path | None = None) -> dict[str, Style]:
    """The default style of every class in ``labels`` and of :data:`OUT_OF_SCOPE`, in :func:`style_keys` order."""
    folder = folder or default_styles_dir()
    neutral = _default_style(OUT_OF_SCOPE, folder, None)
    return {key: neutral if key == OUT_OF_SCOPE else _default_style(key, folder, neutral) for key in style_keys(labels)}


def _override_paths(overrides: str | os.PathLike) -> list[Path]:
    path = Path(overrides).expanduser()
    if path.is_dir():
        files = _style_files(path)
        if not files:
            raise MvgenError("no style files (*.yaml) in this folder", path)
        return files
    if path.is_file():
        return [path]
    raise MvgenError("no such style file or folder", path)


def load_styles(overrides: str | os.PathLike | None = None, *, labels: Sequence[str] = GENRES) -> dict[str, Style]:
    """The styles of a model with classes ``labels`` (default: the 8 HouseX-v2 sub-genres), keyed
    and ordered as :func:`style_keys` (the classes, then ``other``): the defaults, changed by
    ``overrides`` (a folder of YAML files or one file). Each override file selects its class by its
    ``genre`` field (else its file name) and inherits every field it does not give; files apply in
    name order. A file for a class the model lacks is an error listing the model's classes."""
    keys = style_keys(labels)
    styles = _load_defaults(labels)
    if overrides is not None:
        for path in _override_paths(overrides):
            data = load_style_file(path)
            key = _target_genre(data, path, keys)
            styles[key] = parse_style(data, path, base=styles[key], allowed=keys)
    return {key: styles[key] for key in keys}


def validate_styles(path: str | os.PathLike, *, labels: Sequence[str] = GENRES) -> list[str]:
    """Every problem of a style file or folder for a model with classes ``labels``, one line each (``[]`` when all is valid).

    Files may be partial (they are checked on top of the default style of their class).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        files = _style_files(path)
        if not files:
            return [f"{path}: no style files (*.yaml) in this folder"]
    elif path.is_file():
        files = [path]
    else:
        return [f"{path}: no such style file or folder"]
    keys = style_keys(labels)
    try:
        defaults: dict[str, Style] = _load_defaults(labels)
    except MvgenError:
        defaults = {}
    problems: list[str] = []
    for file in files:
        try:
            data = load_style_file(file)
            key = _target_genre(data, file, keys)
        except MvgenError as exc:
            problems.append(str(exc))
            continue
        _, found = _style_problems(data, file, defaults.get(key), keys)
        problems.extend(f"{where}: {text}" for where, text in found)
    return problems


def style_yaml(style: Style) -> str:
    """A style as YAML text (fields in model order)."""
    data = style.model_dump(mode="json")
    data["diffusion"]["strength"] = list(style.diffusion.strength)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def init_styles(folder: str | os.PathLike, *, labels: Sequence[str] = GENRES) -> list[Path]:
    """Write one editable style file per class of ``labels`` plus ``other.yaml`` into ``folder`` (created if needed).

    Classes with a shipped default get a copy of it (comments kept); others get :func:`starter_style`.
    Refuses (:class:`MvgenError`, nothing written) when any of the files already exists.
    """
    folder = Path(folder).expanduser()
    source = default_styles_dir()
    defaults = _load_defaults(labels, source)  # only copy defaults that are valid
    targets = {key: folder / f"{key}.yaml" for key in defaults}
    existing = [t for t in targets.values() if t.exists()]
    if existing:
        raise MvgenError(f"already exists; not overwriting ({len(existing)} of the {len(targets)} style files are there; remove them or pick another folder)", existing[0])
    if folder.exists() and not folder.is_dir():
        raise MvgenError("not a folder", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for key, target in targets.items():
            shipped = source / f"{key}.yaml"
            if shipped.is_file():
                shutil.copyfile(shipped, target)
            else:
                target.write_text(f"# {display_name(key)}: a starter style (the neutral style in a colour of its own); make it yours.\n" + style_yaml(defaults[key]), encoding="utf-8")
    except OSError as exc:
        raise MvgenError(f"cannot write the style files ({exc.strerror or exc})", folder) from None
    return list(targets.values())
