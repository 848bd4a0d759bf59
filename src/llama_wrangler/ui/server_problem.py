"""A server failure as a user should read it: one sentence, then only the log lines that explain it.

The supervisor's messages end with llama-server's last output ("… Last output:" and up to 40 lines). Most
of those lines are per-request bookkeeping (slot timings, "all slots are idle", request logs) that says
nothing about why the process died; :func:`explain` keeps the lines that do (errors, failed loads,
assertions, signals) and falls back to the last few lines when none stands out. The full text stays
available as the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAIL_MARKER = "Last output:"
MAX_RELEVANT = 6
FALLBACK_LINES = 3

# Per-request and idle chatter of llama-server: never the reason it stopped.
_NOISE = re.compile(
    r"^\s*(prompt eval time|eval time|total time|sampling time|load time)\s*=|"
    r"^\s*slot\s|^\s*srv\s+(update_slots|log_server_r|params_from_|cancel_tasks|operator|handle_)|"
    r"all slots are idle|^\s*que\s|request: (GET|POST) |^\s*$",
    re.IGNORECASE)
# llama.cpp's own log lines carry a level letter after the timestamp ("0.00.419.872 I srv ..."): an info,
# warning or debug line is not the reason on its own (the usual start-up warnings about CORS or the
# context would only mislead), so none is offered as one when no line says what went wrong.
_CHATTER = re.compile(r"^\s*\d+\.\d+\.\d+\.\d+ [IWD] ")
_RELEVANT = re.compile(
    r"error|fail|abort|assert|terminat|what\(\)|out of memory|oom|unable|cannot|can't|invalid|"
    r"segmentation|exception|killed|signal|not found|no such|unsupported|denied",
    re.IGNORECASE)


@dataclass(frozen=True)
class ServerProblem:
    summary: str  # one sentence: what happened
    lines: tuple[str, ...]  # the log lines that explain it (may be empty)
    full: str  # the supervisor's whole message

    def short_text(self) -> str:
        """The summary and the relevant lines (for the Server page and the error box)."""
        if not self.lines:
            return self.summary
        return self.summary + "\n" + "\n".join(self.lines)


def explain(message: str) -> ServerProblem:
    head, marker, tail = message.partition(TAIL_MARKER)
    summary = " ".join(head.split()) if marker else " ".join(message.splitlines()[0].split()) if message else ""
    if not marker:
        rest = message.splitlines()[1:]
        tail = "\n".join(rest)
    lines = [line.rstrip() for line in tail.splitlines()]
    useful = [line for line in lines if not _NOISE.search(line)]
    relevant = [line.strip() for line in useful if _RELEVANT.search(line)]
    fallback = [line.strip() for line in useful if not _CHATTER.search(line)]
    chosen = relevant[-MAX_RELEVANT:] if relevant else fallback[-FALLBACK_LINES:]
    return ServerProblem(summary=summary or "llama-server stopped unexpectedly.", lines=tuple(chosen),
                         full=message)
