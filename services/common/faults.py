"""Fault injection points for the chaos suite (``make chaos``). Inert unless the process
was started with the variable set, which only the chaos harness does."""

from __future__ import annotations

import os
import random
import signal

KILL_AFTER_PUBLISH_VAR = "AFTERSALES_FAULT_KILL_AFTER_PUBLISH"


def _share(name: str) -> float:
    try:
        return float(os.environ.get(name, "0"))
    except ValueError:
        return 0.0


def crash_after_publish() -> None:
    """Die like ``kill -9`` between a confirmed publish and its sent mark, with the
    configured probability: the relay must re-send and consumers absorb the duplicate."""
    share = _share(KILL_AFTER_PUBLISH_VAR)
    if share and random.random() < share:
        os.kill(os.getpid(), signal.SIGKILL)
