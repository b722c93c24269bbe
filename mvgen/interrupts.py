"""Interruptions: SIGTERM (what ``timeout``, systemd, Kubernetes and Ray send) handled as Ctrl-C.

:func:`sigterm_interrupts` turns SIGTERM into a :class:`Terminated` interruption (a
``KeyboardInterrupt``), so a terminated render stops as after Ctrl-C: encoders ended, finished
chunks kept.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interruption (see :func:`sigterm_interrupts`); exits with :attr:`exit_code`."""

    #: 128 + SIGTERM, the status a shell reports for a process ended by SIGTERM.
    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, so a
    terminated render cleans up as after Ctrl-C; outside a main thread it does nothing.

    Only the first SIGTERM raises: later ones are ignored until the block ends, so a second signal
    (systemd and Kubernetes repeat theirs) cannot cut the cleanup short; SIGKILL stays the hard stop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
