"""The package by stage: imports only go down the stages, never back up, never in a circle.

Every ``import`` of the package's source is read (inside functions too, and under
``TYPE_CHECKING``: a type that runs back up is still a dependency a reader must follow). A module
may import from its own folder and from folders of a lower stage; two folders of the same stage
(training and style, renderers and delivery, brand and report) stay independent.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "mvgen"

#: Stage of each part of the package (the first component below ``mvgen``); lower stages are more basic.
STAGES = {
    # ground: shared basics
    "errors": 0, "paths": 0, "fileio": 0, "genres": 0, "features": 0, "clock": 0, "interrupts": 0, "_version": 0,
    "media": 1, "safe_yaml": 1,
    "synth": 2,
    "classify": 3,
    "analysis": 4,
    "training": 5, "style": 5,
    "renderers": 6, "delivery": 6,
    "brand": 7, "report": 7,
    # entry points and the render pipeline, flat on top
    "settings": 8, "workspace": 9, "clips": 9, "pipeline": 10, "batch": 11, "doctor": 11, "studio": 12, "cli": 13, "__main__": 14,
}


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: pathlib.Path, modules: dict) -> set[str]:
    """The package's modules that ``name`` imports (``from pkg import module`` counts as the module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` imports the module; `from module import name`, the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself: the library API, above everything
        return max(STAGES.values()) + 1
    return STAGES[parts[1]]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_stage():
    missing = sorted({name.split(".")[1] for name in _modules() if "." in name} - set(STAGES))
    assert not missing, f"modules or folders without a stage in STAGES: {missing}"


def test_imports_only_go_down_the_stages():
    upward = []
    for name, targets in _graph().items():
        for target in targets:
            same_part = name.split(".")[:2] == target.split(".")[:2]
            if target == "mvgen" or (not same_part and _stage(target) >= _stage(name)):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports that run back up (or across one stage):\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = _graph()
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_walker_sees_an_upward_import_and_a_cycle(tmp_path, monkeypatch):
    # the checks can fail: a tiny package with an upward import and a cycle is caught
    fake = tmp_path / "mvgen"
    (fake / "media").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "media" / "__init__.py").write_text("")
    (fake / "media" / "audio.py").write_text("from mvgen.pipeline import render\n")
    (fake / "pipeline.py").write_text("from mvgen.media import audio\nfrom mvgen import clips\n")
    (fake / "clips.py").write_text("def f():\n    from mvgen.pipeline import render\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match="mvgen.media.audio -> mvgen.pipeline"):
        test_imports_only_go_down_the_stages()
    with pytest.raises(AssertionError, match="mvgen.clips -> mvgen.pipeline -> mvgen.clips"):
        test_no_import_cycles()


@pytest.mark.parametrize("name", sorted(name for name in _modules() if not name.endswith("__main__")))  # __main__ runs the CLI
def test_every_module_imports_on_its_own(name):
    # a fresh interpreter per module would take minutes; importing in this one still catches a
    # module that needs a name its imports no longer give
    importlib.import_module(name)


def test_the_wheel_ships_every_stage_folder():
    # setuptools installs only the packages pyproject.toml lists: a stage folder left out of the list
    # would import from a checkout and fail in an installed mvgen
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(init.parent.relative_to(PACKAGE.parent).parts) for init in PACKAGE.rglob("__init__.py")}
    listed = {name for name in config["packages"] if not name.startswith("mvgen._")}
    assert listed == folders
