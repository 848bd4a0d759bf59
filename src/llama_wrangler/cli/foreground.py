"""Running work in the foreground of a terminal: a progress bar on stderr, and Ctrl-C that keeps a
download's partial file for the next run (``pull``, ``convert``, ``quantize``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from llama_wrangler.cli.context import CliContext
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.units import human_bytes

if TYPE_CHECKING:
    from llama_wrangler.library.records import ModelRecord
    from llama_wrangler.sources.partials import PartialDownload
    from llama_wrangler.work import Work


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class ProgressBar:
    """A one-line bar on a terminal (``\\r`` updates); on a pipe, a line every 10 % or new stage."""

    WIDTH = 28

    def __init__(self, stream: TextIO = sys.stderr, *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self._last_draw = 0.0
        self._last_key: tuple[str, int] | None = None
        self._open_line = False

    def __call__(self, report: Progress) -> None:
        if self.quiet:
            return
        fraction = report.fraction
        if self.tty:
            now = time.monotonic()
            final = fraction is not None and fraction >= 1.0
            if now - self._last_draw < 0.1 and not final:
                return
            self._last_draw = now
            self.stream.write("\r" + self.render(report).ljust(100)[:120])
            self._open_line = True
        else:
            key = (report.stage, int((fraction or 0) * 10))
            if key == self._last_key:
                return
            self._last_key = key
            self.stream.write(self.render(report) + "\n")
        self.stream.flush()

    def render(self, report: Progress) -> str:
        fraction = report.fraction
        if fraction is None:
            return f"{report.stage}: {report.message}".rstrip(": ")
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        if report.stage == "download":
            detail = (f"{human_bytes(report.done)}/{human_bytes(report.total)}  "
                      f"{human_bytes(report.bytes_per_second or 0)}/s  ETA {duration_text(report.eta_seconds)}")
        else:
            detail = f"{report.done}/{report.total}"
        return f"{report.stage:<9}[{bar}] {fraction * 100:5.1f}%  {detail}  {report.message}"

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def run_in_foreground(work: Work[ModelRecord], *, quiet: bool) -> ModelRecord:
    """Run ``work`` here with a progress bar on stderr (conversions: Ctrl-C stops the tools)."""
    bar = ProgressBar(quiet=quiet)
    try:
        return work.run(bar, CancelToken())
    finally:
        bar.close()


def pull_in_foreground(context: CliContext, work: Work[ModelRecord], *, quiet: bool, heading: str, total: int,
                       ours: Callable[[PartialDownload], bool]) -> ModelRecord | None:
    """Print ``heading`` and run the download ``work`` with a progress bar on stderr. Ctrl-C stops it: say
    how much of ``total`` the partial downloads that ``ours`` picks keep for resuming, and return None."""
    from llama_wrangler.sources.partials import list_partials

    print(heading, file=sys.stderr)
    try:
        return run_in_foreground(work, quiet=quiet)
    except KeyboardInterrupt:
        kept = sum(p.bytes_on_disk for p in list_partials(context.paths) if ours(p))
        print(f"Stopped. {human_bytes(kept)} of {human_bytes(total)} is kept; run the same command again "
              "to resume.", file=sys.stderr)
        return None
