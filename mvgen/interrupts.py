"""Interruptions: SIGTERM (what ``timeout``, systemd, Kubernetes and Ray send) handled as Ctrl-C.

:func:`sigterm_interrupts` turns SIGTERM into a :class:`Terminated` interruption (a
``KeyboardInterrupt``), so a terminated render stops as after Ctrl-C: encoders ended, finished
chunks kept. :func:`deferred_interrupts` holds both for a step that must not be cut in two (starting
an encoder and recording its process, so that it can be stopped).
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


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM wait: the first one that came is delivered when the block ends, to
    the handler it had before (``KeyboardInterrupt``, :class:`Terminated`, or ignored), even when the
    block raised. For short steps only, such as starting a child process and keeping its handle: an
    interruption in between would leave the child running with nothing to stop it.

    Outside a main thread it does nothing (signal handlers run only there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)

    # a handler that was not set from Python (getsignal None) cannot be put back: leave that signal alone
    signums = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not None]
    previous = {signum: signal.signal(signum, hold) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            signal.raise_signal(held[0])  # its own handler runs now, as if it had just come
