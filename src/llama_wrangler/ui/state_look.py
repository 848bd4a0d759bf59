"""How each server state looks to a user — its words, its state dot and its colour — in one table that
the status bar, the server page, the library's Server column and the tray all read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from llama_wrangler.server.state import ServerState


class Tone(StrEnum):
    """Which theme colour a state is drawn in (a field name of ``theme.Colors``)."""

    OK = "ok"
    BUSY = "busy"
    BAD = "bad"
    IDLE = "idle"


@dataclass(frozen=True)
class StateLook:
    words: str  # the status bar and server page: "Loading model…"
    short: str  # the library's Server column ('' when the model is not running)
    icon: str  # the state-dot resource
    tone: Tone


STATE_LOOKS: dict[ServerState, StateLook] = {
    ServerState.STOPPED: StateLook("Server stopped", "", "state-stopped", Tone.IDLE),
    ServerState.STARTING: StateLook("Server starting…", "Starting", "state-busy", Tone.BUSY),
    ServerState.LOADING: StateLook("Loading model…", "Loading", "state-busy", Tone.BUSY),
    ServerState.READY: StateLook("Serving", "Serving", "state-ready", Tone.OK),
    ServerState.STOPPING: StateLook("Stopping…", "Stopping", "state-busy", Tone.BUSY),
    ServerState.CRASHED: StateLook("Server crashed", "Crashed", "state-crashed", Tone.BAD),
}


def look(state: ServerState | str) -> StateLook:
    """The look of ``state``; anything unknown (or '') looks stopped."""
    try:
        return STATE_LOOKS[ServerState(state)]
    except ValueError:
        return STATE_LOOKS[ServerState.STOPPED]


def describe_state(state: ServerState | str, model: str = "", endpoint: str = "", *,
                   open_endpoint: str = "") -> str:
    """One line for the status bar and the tray tooltip. ``open_endpoint``: the stable endpoint's address
    while it listens with no model ready (it still answers, so "stopped" alone would mislead)."""
    words = look(state).words
    if open_endpoint and state in (ServerState.STOPPED, ServerState.CRASHED):
        return f"{words} · endpoint open at {open_endpoint}"
    if state == ServerState.READY and model:
        return f"{words} {model}" + (f" at {endpoint}" if endpoint else "")
    if state in (ServerState.STARTING, ServerState.LOADING) and model:
        return f"{words} ({model})"
    return words
