"""Interruptions: SIGTERM raised as one, and interruptions held over a step that must not be cut in two."""

import signal

import pytest

from mvgen.interrupts import Terminated, deferred_interrupts, sigterm_interrupts


def test_ctrl_c_inside_a_deferred_block_is_raised_when_it_ends():
    handler = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            signal.raise_signal(signal.SIGINT)
            steps.append("the rest of the block")
    assert steps == ["the rest of the block"]
    assert signal.getsignal(signal.SIGINT) is handler
    with deferred_interrupts():  # nothing came: nothing raised
        steps.append("a quiet block")


def test_an_interruption_is_raised_even_when_the_deferred_block_fails():
    with pytest.raises(KeyboardInterrupt) as info:
        with deferred_interrupts():
            signal.raise_signal(signal.SIGINT)
            raise OSError("no encoder")
    assert isinstance(info.value.__context__, OSError)


def test_sigterm_inside_a_deferred_block_terminates_once_when_it_ends():
    with sigterm_interrupts():
        with pytest.raises(Terminated):
            with deferred_interrupts():
                signal.raise_signal(signal.SIGTERM)
                signal.raise_signal(signal.SIGTERM)  # repeated, as systemd and Kubernetes do: held too
        with deferred_interrupts():  # after the first SIGTERM, later ones are ignored, held or not
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
