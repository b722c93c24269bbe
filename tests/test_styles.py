"""Style files: the 8 defaults, partial overrides, one-line errors with file/line/field, init, blending."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mvgen.errors import MvgenError
from mvgen.style.framespec import MOTIFS
from mvgen.genres import GENRES
from mvgen.style.blend import BlendedStyle, StyleTable, blend_styles
from mvgen.style.colors import hex_to_rgb, linear_to_srgb, srgb_to_linear
from mvgen.paths import default_styles_dir
from mvgen.style.styles import (
    MOTION_FIELDS,
    Style,

    init_styles,
    load_style_file,
    load_styles,
    parse_style,
    validate_styles,
)


@pytest.fixture(scope="module")
def defaults() -> dict[str, Style]:
    return load_styles()


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _one_line_error(path: Path) -> str:
    with pytest.raises(MvgenError) as info:
        load_styles(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- defaults


def test_default_dir_is_the_checkout_and_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("MVGEN_STYLES_DIR", raising=False)
    assert default_styles_dir() == Path(__file__).resolve().parent.parent / "styles"
    monkeypatch.setenv("MVGEN_STYLES_DIR", str(tmp_path))
    assert default_styles_dir() == tmp_path


def test_all_default_files_load_and_are_distinct(defaults):
    assert list(defaults) == list(GENRES) + ["other"]
    folder = default_styles_dir()
    assert sorted(p.stem for p in folder.glob("*.yaml")) == sorted(GENRES + ("other",))
    for key, style in defaults.items():
        assert style.genre == key and style.name
        assert 3 <= len(style.palette.colors) <= 6
        assert set(style.procedural.motifs) <= set(MOTIFS) and max(style.procedural.motifs.values()) > 0
        assert len(style.diffusion.prompt) > 80
        low, high = style.diffusion.strength
        assert 0 <= low <= high <= 1
        # Each default file is complete on its own (no inheritance).
        assert parse_style(load_style_file(folder / f"{key}.yaml"), folder / f"{key}.yaml") == style
    for field in ("palette", "motion", "procedural", "diffusion"):
        values = [getattr(s, field).model_dump_json() for s in defaults.values()]
        assert len(set(values)) == len(GENRES) + 1, field
    # The character of the genres shows in the numbers.
    deep, big, bass = defaults["deep_house"], defaults["bigroom"], defaults["bass_house"]
    assert deep.motion.reactivity < 0.7 < big.motion.reactivity
    assert big.motion.flash_on_drop == max(s.motion.flash_on_drop for s in defaults.values())
    assert max(big.procedural.motifs, key=big.procedural.motifs.get) == "lasers"
    assert bass.motion.shake_on_kick == max(s.motion.shake_on_kick for s in defaults.values())
    assert deep.procedural.speed == min(s.procedural.speed for s in defaults.values())


# ---------------------------------------------------------------- overrides


def test_partial_override_inherits_everything_else(defaults, tmp_path):
    _write(
        tmp_path,
        "mine.yaml",
        """
        genre: Future House
        motion:
          zoom_per_beat: 0.2
        palette:
          background: "#ABC"
        """,
    )
    styles = load_styles(tmp_path / "mine.yaml")
    assert list(styles) == list(GENRES) + ["other"]
    future = styles["future_house"]
    assert future.motion.zoom_per_beat == 0.2 and future.palette.background == "#aabbcc"
    base = defaults["future_house"]
    assert future.motion.model_dump(exclude={"zoom_per_beat"}) == base.motion.model_dump(exclude={"zoom_per_beat"})
    assert future.palette.colors == base.palette.colors
    assert (future.diffusion, future.procedural, future.name) == (base.diffusion, base.procedural, base.name)
    assert all(styles[k] == defaults[k] for k in GENRES if k != "future_house")


def test_folder_override_selects_genre_by_file_name(defaults, tmp_path):
    _write(tmp_path, "deep_house.yaml", "procedural:\n  motifs: {grid: 1}\n")
    _write(tmp_path, "tech_house.yml", "name: Techno\n")
    styles = load_styles(tmp_path)
    assert styles["deep_house"].procedural.motifs == {"grid": 1.0}  # motif tables replace as a whole
    assert styles["deep_house"].procedural.speed == defaults["deep_house"].procedural.speed
    assert styles["tech_house"].name == "Techno"
    with pytest.raises(MvgenError, match="no such style file"):
        load_styles(tmp_path / "nope")


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "body, line, expected",
    [
        ("motion:\n  drift: 0.3\n  zoom_per_beat: 0.5\n", 3, r"motion\.zoom_per_beat: 0\.5 is out of range \(allowed: 0\.\.0\.3\)"),
        ("procedural:\n  speed: fast\n", 2, r"procedural\.speed: should be a valid number, got str 'fast'"),
        ("motion:\n  zoom_per_beat: 0.1\n  zoom_per_bar: 0.1\n", 3, r"motion\.zoom_per_bar: unknown field \(allowed: zoom_per_beat, .*reactivity\)"),
        ("name: X\ngenre: dubstep\n", 2, r"genre: the model has no class 'dubstep' \(allowed: progressive_house, future_house, .*slap_house, other\)"),
        ("procedural:\n  motifs:\n    tunnel: 1\n    sparkles: 0.5\n", 4, r"procedural\.motifs\.sparkles: unknown motif 'sparkles' \(allowed: tunnel, lasers, particles, grid, rings, waves\)"),
        ("palette:\n  colors:\n    - '#ff0000'\n    - 'red'\n    - '#00ff00'\n", 4, r"palette\.colors\.1: 'red' is not a hex colour"),
        ("diffusion:\n  strength: [0.8, 0.2]\n", 2, r"diffusion\.strength: min 0\.8 is above max 0\.2"),
        ("diffusion:\n  seed_policy: sometimes\n", 2, r"diffusion\.seed_policy: 'sometimes' is not allowed \(allowed: per-track, per-section, per-bar\)"),
        ("palette:\n  colors: ['#000', '#fff']\n", 2, r"palette\.colors: has 2 items \(allowed: 3\.\.6 items\)"),
    ],
)
def test_errors_are_one_line_with_file_line_and_field(tmp_path, body, line, expected):
    path = _write(tmp_path, "bigroom.yaml", body)
    message = _one_line_error(path)
    assert message.startswith(f"{path}:{line}: "), message
    assert re.search(expected, message), message


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bigroom.yaml", "name: Bigroom\nmotion:\n  drift: [0.1\n  strobe: 1\n")
    message = _one_line_error(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message
    line = int(message[len(str(path)) + 1 :].split(":")[0])
    assert 3 <= line <= 5
    with pytest.raises(MvgenError, match=r"bigroom\.yaml:\d+: invalid YAML"):
        load_style_file(path)


def test_full_style_without_base_reports_missing_fields(tmp_path):
    path = _write(tmp_path, "x.yaml", "genre: bigroom\nname: Big\n")
    with pytest.raises(MvgenError) as info:
        parse_style(load_style_file(path), path)
    assert str(info.value).startswith(f"{path}:1: diffusion: required field is missing")
    assert "more problems" in str(info.value) and "\n" not in str(info.value)


def test_file_name_and_genre_must_agree(tmp_path):
    path = _write(tmp_path, "bigroom.yaml", "genre: deep_house\n")
    assert _one_line_error(path).startswith(f"{path}:1: genre: 'deep_house' does not match the file name")
    other = _write(tmp_path, "whatever.yaml", "name: X\n")
    assert "cannot tell which class this file styles" in _one_line_error(other)


def test_validate_collects_several_problems(defaults, tmp_path):
    _write(tmp_path, "bigroom.yaml", "motion:\n  strobe: 2\n  wobble: 1\nprocedural:\n  density: -1\n")
    _write(tmp_path, "deep_house.yaml", "palette: {background: nope}\n")
    _write(tmp_path, "slap_house.yaml", "name: [oops\n")
    _write(tmp_path, "tech_house.yaml", "name: Fine\n")
    problems = validate_styles(tmp_path)
    assert len(problems) == 5, problems
    assert all("\n" not in p for p in problems)
    assert any(p.startswith(f"{tmp_path / 'bigroom.yaml'}:2: motion.strobe:") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'bigroom.yaml'}:3: motion.wobble: unknown field") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'bigroom.yaml'}:5: procedural.density:") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'deep_house.yaml'}:1: palette.background:") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'slap_house.yaml'}:") and "invalid YAML" in p for p in problems)
    assert validate_styles(tmp_path / "tech_house.yaml") == []
    assert validate_styles(default_styles_dir()) == []
    assert validate_styles(tmp_path / "missing") == [f"{tmp_path / 'missing'}: no such style file or folder"]


# ---------------------------------------------------------------- init


def test_init_writes_editable_copies_and_refuses_to_overwrite(defaults, tmp_path):
    folder = tmp_path / "my" / "styles"
    written = init_styles(folder)
    assert [p.name for p in written] == [f"{k}.yaml" for k in GENRES] + ["other.yaml"] and all(p.is_file() for p in written)
    assert load_styles(folder) == defaults
    assert validate_styles(folder) == []
    before = written[0].read_text()
    written[3].unlink()
    with pytest.raises(MvgenError, match="already exists"):
        init_styles(folder)
    assert not written[3].exists() and written[0].read_text() == before


# ---------------------------------------------------------------- blending


def test_one_hot_blend_gives_that_style(defaults):
    table = StyleTable.from_styles(defaults)
    for i, key in enumerate(GENRES):
        style = defaults[key]
        blended = table.blend(np.eye(9)[i])
        assert isinstance(blended, BlendedStyle)
        assert len(blended.palette) == 5
        colours = style.palette.rgb()
        np.testing.assert_allclose(blended.palette, [colours[j % len(colours)] for j in range(5)], atol=1e-9)
        for field in MOTION_FIELDS:
            assert getattr(blended.motion, field) == pytest.approx(getattr(style.motion, field))
        assert blended.motif_weights == pytest.approx({m: style.procedural.motifs.get(m, 0.0) for m in MOTIFS})
        assert (blended.speed, blended.density) == pytest.approx((style.procedural.speed, style.procedural.density))
        assert blended.strength == pytest.approx(style.diffusion.strength)


def test_half_half_blend_is_the_mean(defaults):
    deep, big = defaults["deep_house"], defaults["bigroom"]
    weights = np.zeros(9)
    weights[[GENRES.index("deep_house"), GENRES.index("bigroom")]] = 0.5
    blended = blend_styles(defaults, weights.tolist())
    for field in MOTION_FIELDS:
        assert getattr(blended.motion, field) == pytest.approx((getattr(deep.motion, field) + getattr(big.motion, field)) / 2)
    assert blended.speed == pytest.approx((deep.procedural.speed + big.procedural.speed) / 2)
    for m in MOTIFS:
        assert blended.motif_weights[m] == pytest.approx((deep.procedural.motifs.get(m, 0) + big.procedural.motifs.get(m, 0)) / 2)
    assert blended.strength == pytest.approx(tuple((a + b) / 2 for a, b in zip(deep.diffusion.strength, big.diffusion.strength)))
    # Colours mix in linear light: the mean of the linear values, encoded back to sRGB.
    expected = linear_to_srgb((srgb_to_linear(np.array(deep.palette.rgb()[0])) + srgb_to_linear(np.array(big.palette.rgb()[0]))) / 2)
    np.testing.assert_allclose(blended.palette[0], expected, atol=1e-9)
    bg = linear_to_srgb((srgb_to_linear(np.array(hex_to_rgb(deep.palette.background))) + srgb_to_linear(np.array(hex_to_rgb(big.palette.background)))) / 2)
    np.testing.assert_allclose(blended.background, bg, atol=1e-9)


@pytest.mark.parametrize("weights", [[1.0], np.full(8, 1 / 8), np.full(9, 0.2), [1.5, -0.5, 0, 0, 0, 0, 0, 0, 0], [np.nan] * 9])
def test_bad_weights_raise_value_error_naming_the_parameter(defaults, weights):
    table = StyleTable.from_styles(defaults)
    with pytest.raises(ValueError, match="weights"):
        table.blend(weights)


def test_blend_is_fast(defaults):
    import time

    table = StyleTable.from_styles(defaults)
    weights = np.full(9, 1 / 9)

    def cpu_s_per_1000() -> float:
        # this process's CPU time, not the wall clock: other processes on a busy machine do not count
        start = time.process_time()
        for _ in range(1000):
            table.blend(weights)
        return time.process_time() - start

    assert min(cpu_s_per_1000() for _ in range(3)) < 1.0  # ~40 us per frame in practice


# ---------------------------------------------------------------- a taxonomy of the user's own

MINE = ("drum_and_bass", "hardstyle", "reggae")


def test_styles_follow_the_model_classes(defaults, tmp_path):
    styles = load_styles(labels=MINE)
    assert list(styles) == [*MINE, "other"]
    neutral = defaults["other"]
    assert styles["other"] == neutral
    # Classes without a shipped style start from the neutral one, each in a colour of its own.
    for key in MINE:
        assert styles[key].genre == key and styles[key].motion == neutral.motion and key.split("_")[0].title() in styles[key].diffusion.prompt
    assert len({styles[k].palette.colors[0] for k in MINE} | {neutral.palette.colors[0]}) == 4
    _write(tmp_path, "reggae.yaml", "palette:\n  colors: ['#1b8a3a', '#f2c230', '#d42a1e']\n  background: '#050505'\n")
    assert load_styles(tmp_path, labels=MINE)["reggae"].palette.colors[0] == "#1b8a3a"
    # A style for a class the model lacks is an error listing the model's classes.
    _write(tmp_path, "bigroom.yaml", "name: Big\n")
    message = _one_line_error_for(tmp_path, MINE)
    assert message.startswith(f"{tmp_path / 'bigroom.yaml'}:1: ") and "(allowed: drum_and_bass, hardstyle, reggae, other)" in message


def _one_line_error_for(path: Path, labels) -> str:
    with pytest.raises(MvgenError) as info:
        load_styles(path, labels=labels)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_init_for_a_model_writes_one_style_per_class_and_other(tmp_path):
    written = init_styles(tmp_path / "mine", labels=MINE)
    assert [p.name for p in written] == [f"{k}.yaml" for k in MINE] + ["other.yaml"]
    assert validate_styles(tmp_path / "mine", labels=MINE) == []
    assert load_styles(tmp_path / "mine", labels=MINE) == load_styles(labels=MINE)
    assert "bigroom" in validate_styles(tmp_path / "mine" / "reggae.yaml", labels=GENRES)[0]  # not a class of the default model


def test_the_dominant_style_sets_the_blended_seed_policy(defaults):
    table = StyleTable.from_styles(defaults)
    policy = dict(zip(table.labels, table.seed_policies))
    assert policy == {k: s.diffusion.seed_policy for k, s in defaults.items()}
    deep, bass = table.labels.index("deep_house"), table.labels.index("bass_house")
    assert (policy["deep_house"], policy["bass_house"]) == ("per-track", "per-bar")
    w = np.zeros(len(table.labels))
    w[[deep, bass]] = 0.4, 0.6
    assert table.blend(w).seed_policy == "per-bar"  # a policy is not mixed: the larger weight decides
    w[[deep, bass]] = 0.6, 0.4
    assert table.blend(w).seed_policy == "per-track"
    with pytest.raises(ValueError, match="seed_policies"):
        StyleTable(table.labels, table.palette_linear, table.background_linear, table.motion, table.motifs, table.speed,
                   table.density, table.strength, seed_policies=["sometimes"] * len(table.labels))
