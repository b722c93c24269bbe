"""The one error type the CLI turns into a one-line message."""

from __future__ import annotations

import os
from pathlib import Path


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


def check_input_file(path: str | os.PathLike, what: str, *, max_bytes: int | None = None) -> int:
    """Check that ``path`` is a non-empty regular file this process can read (at most ``max_bytes``
    long when given) and return its size in bytes; else raise :class:`MvgenError`
    ``"<path>: <problem>"`` naming ``what`` it was to be (``"font file"``, ``"lyrics file"``), before anything reads it."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MvgenError(f"{what} not found", path) from None
    except OSError as exc:
        raise MvgenError(f"cannot read the {what} ({exc.strerror or exc})", path) from None
    if path.is_dir():
        raise MvgenError(f"is a folder, not {_a(what)}", path)
    if not path.is_file():
        raise MvgenError(f"is not a regular file (a device or a pipe), not {_a(what)}", path)
    if not os.access(path, os.R_OK):
        raise MvgenError(f"cannot read the {what} (permission denied)", path)
    if st.st_size == 0:
        raise MvgenError(f"the {what} is empty (0 bytes)", path)
    if max_bytes is not None and st.st_size > max_bytes:
        raise MvgenError(f"the {what} is {_megabytes(st.st_size)}, over the limit of {_megabytes(max_bytes)}", path)
    return st.st_size


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes} bytes"
