"""The one error type the CLI turns into a one-line message."""

from __future__ import annotations

import os


class MvgenError(Exception):
    """A problem with user input or the environment, reported as ``"<path>: <problem>"``.

    The CLI prints ``str(error)`` on one line of stderr and exits non-zero, with no traceback.
    """

    def __init__(self, problem: str, path: str | os.PathLike | None = None):
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


#: Prefixes pydantic puts before the message of an error raised in a validator: the user reads the message alone.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def field_name(loc: tuple, *, brackets: bool = False) -> str:
    """A pydantic error location as a dotted field name (``("diffusion", "size")`` -> ``"diffusion.size"``);
    ``brackets``: list indices as ``[i]``, as a YAML file's reader counts its items (``("tracks", 2, "path")``
    -> ``"tracks[2].path"``) rather than ``"tracks.2.path"``."""
    if not brackets:
        return ".".join(str(part) for part in loc)
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc).replace(".[", "[")


def validation_problem(error: dict) -> str:
    """The message of one pydantic error (an item of ``ValidationError.errors()``), without pydantic's prefix."""
    message = str(error["msg"])
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def validation_error(exc, path: str | os.PathLike | None = None, *, what: str) -> MvgenError:
    """The first error of a pydantic ``ValidationError`` as one :class:`MvgenError`:
    ``"<path>: <what> <field>: <problem>"`` (``what``, e.g. "render option", names the kind of field)."""
    first = exc.errors()[0]
    name = field_name(first["loc"]) or "settings"
    return MvgenError(f"{what} {name}: {validation_problem(first)}", path)
