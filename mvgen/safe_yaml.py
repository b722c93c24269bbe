"""YAML from users (style files, batch manifests), loaded safely and with its aliases limited.

``yaml.safe_load`` builds no arbitrary objects, but it still takes a "billion laughs" file: nine lines
whose anchors and aliases expand to a billion values. PyYAML shares aliased objects, so loading is
quick, but whatever walks the result afterwards (validation, dumping, printing) walks every expanded
value: ``mvgen styles validate`` ran for 53 s on one and ended in a bare ``MemoryError``. Here the
document's node graph is measured before anything is built from it: a document larger than
:data:`MAX_YAML_BYTES`, expanding to more than :data:`MAX_YAML_VALUES` values, referring to itself or
nested deeper than Python can follow is refused with one :class:`~mvgen.errors.MvgenError` line.
"""

from __future__ import annotations

import contextlib

import yaml

from mvgen.errors import MvgenError

#: The largest YAML document mvgen reads (bytes): style files are a few kB, manifests of hundreds of
#: tracks tens of kB.
MAX_YAML_BYTES = 2_000_000
#: The most values (mappings, lists and scalars, aliases counted as often as they are used) a document
#: may expand to: about 100 times the largest real manifest.
MAX_YAML_VALUES = 200_000


def _problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """``(":LINE" or "", problem)`` of a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = " ".join((f"{problem}" + (f" ({context})" if context else "")).split())
    return (f":{mark.line + 1}" if mark is not None else ""), text


@contextlib.contextmanager
def _errors_named(where: str):
    """PyYAML's errors (and Python's recursion limit) inside the block as one :class:`MvgenError` line."""
    try:
        yield
    except yaml.YAMLError as exc:
        line, problem = _problem(exc)
        raise MvgenError(f"invalid YAML: {problem}", f"{where}{line}") from None
    except RecursionError:
        raise MvgenError("YAML nested too deeply; refused", where) from None


def _check_expansion(root: yaml.Node, where: str) -> None:
    """Raise when ``root`` expands to more than :data:`MAX_YAML_VALUES` values or refers to itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_VALUES:
                raise MvgenError(f"YAML whose aliases expand to more than {MAX_YAML_VALUES:,} values (a 'billion laughs' document?); refused", where)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise MvgenError("YAML that refers to itself through an alias; refused", where)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose_yaml(text: str, where: str) -> yaml.Node | None:
    """The node graph of the YAML document ``text`` (None when empty), checked as the module docstring says;
    ``where`` (a path) names the document in errors. Raises :class:`MvgenError`."""
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise MvgenError(f"YAML document larger than {MAX_YAML_BYTES / 1e6:.0f} MB; refused", where)
    loader = yaml.SafeLoader(text)
    try:
        with _errors_named(where):
            node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _check_expansion(node, where)
    return node


def load_yaml(text: str, where: str) -> object:
    """``yaml.safe_load(text)`` for YAML from users, checked first (see the module docstring); ``where``
    (a path) names the document in errors. Raises :class:`MvgenError`."""
    node = compose_yaml(text, where)
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        with _errors_named(where):
            return loader.construct_document(node)
    finally:
        loader.dispose()
