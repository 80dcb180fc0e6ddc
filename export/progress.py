"""One line per long export step on stderr, with its elapsed time, so a minute of tracing is not
mistaken for a hang. On a terminal the step's name shows while it runs and its time is added when
it ends; in a log the whole line is written at the end. A step that fails leaves no line: the error
message that follows says what went wrong."""
from __future__ import annotations

import contextlib
import sys
import time

ERASE = "\r\033[K"


class Progress:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.start = time.perf_counter()

    @contextlib.contextmanager
    def step(self, what: str):
        began = time.perf_counter()
        if self.live:
            self._write(f"{what}...")
        try:
            yield
        except BaseException:
            if self.live:
                self._write(ERASE)
            raise
        self._write(f"{'' if self.live else what + '...'} {time.perf_counter() - began:.1f} s\n")

    def done(self, what: str) -> None:
        self._write(f"{what} in {time.perf_counter() - self.start:.1f} s\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class Silent:
    """The library's default: export_model says nothing unless asked."""

    def step(self, what: str):
        return contextlib.nullcontext()

    def done(self, what: str) -> None:
        pass
