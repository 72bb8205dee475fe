"""A Ctrl-C before a script's main runs, while torch and the project's modules import (seconds, minutes on a slow
network disk), ends the script with the one line that run_main prints for a Ctrl-C before a run folder exists, and
not with the traceback of whichever import it cut. Imports nothing but the standard library, so that a script
installs it before its own imports; run_main handles every Ctrl-C after that."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType

Hook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def quiet_hook(previous: Hook) -> Hook:
    """An excepthook that prints a KeyboardInterrupt as "interrupted" and hands every other exception to
    ``previous`` (a crash keeps its traceback). Python still exits as a Ctrl-C makes it (status 130)."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> object:
        if issubclass(kind, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            return None
        return previous(kind, value, tb)

    return hook


def quiet_interrupts() -> None:
    """Install quiet_hook as this process's excepthook: for a script run as __main__ only (it is the process's)."""
    sys.excepthook = quiet_hook(sys.excepthook)
