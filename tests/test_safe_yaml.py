"""YAML from users is loaded safely, with its aliases limited: hostile documents get one clear line, fast."""

from __future__ import annotations

import time

import pytest
import yaml

from mvgen.errors import MvgenError
from mvgen.safe_yaml import MAX_YAML_BYTES, MAX_YAML_VALUES, compose_yaml, load_yaml

#: Nine levels of nine aliases: 9**9 (387 million) strings once expanded.
BILLION_LAUGHS = "a: &a [" + ",".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


def test_ordinary_yaml_loads_as_safe_load_does():
    text = "name: x\npalette: ['#ff0000', '#00ff00']\nbase: &b {drift: 0.2}\nother: *b\nempty:\n"
    assert load_yaml(text, "s.yaml") == yaml.safe_load(text)
    assert load_yaml("", "s.yaml") is None


def test_a_billion_laughs_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(MvgenError, match=r"^bomb\.yaml: YAML whose aliases expand to more than 200,000 values"):
        load_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 1.0
    assert MAX_YAML_VALUES == 200_000
    # a few levels of the same pattern stay within the limit (9**4 = 6561 strings) and load
    small = "".join(BILLION_LAUGHS.splitlines(keepends=True)[:4])
    assert len(load_yaml(small, "ok.yaml")["d"]) == 9


@pytest.mark.parametrize("text,problem", [
    ("a: &a [*a]\n", "refers to itself"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ("a: [1, 2\n", "invalid YAML"),
    ("!!python/object:os.system {}\n", "invalid YAML"),
])
def test_hostile_or_broken_yaml_is_one_clear_error(text, problem):
    with pytest.raises(MvgenError, match=problem) as info:
        load_yaml(text, "x.yaml")
    assert str(info.value).startswith("x.yaml")
    assert "\n" not in str(info.value)


def test_a_document_over_the_size_limit_is_refused():
    with pytest.raises(MvgenError, match="larger than 2 MB"):
        compose_yaml("#" * (MAX_YAML_BYTES + 1), "big.yaml")


def test_styles_validate_and_batch_refuse_a_billion_laughs(run_cli, tmp_path):
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "deep_house.yaml").write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    result = run_cli("styles", "validate", styles, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "deep_house.yaml: YAML whose aliases expand" in result.stdout + result.stderr
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(BILLION_LAUGHS)
    result = run_cli("batch", manifest, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{manifest}: YAML whose aliases expand" in result.stderr
    assert time.perf_counter() - start < 20.0  # two fresh processes; the 53 s this once took is far away
