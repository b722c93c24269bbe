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
