"""The states of the model server, as the supervisor reports them (``state_changed(old, new)``)."""

from __future__ import annotations

from enum import StrEnum


class ServerState(StrEnum):
    """``stopped`` nothing runs; ``starting`` spawned, HTTP not up yet; ``loading`` HTTP up, the model is
    still loading; ``ready`` serving; ``stopping`` asked to exit, waiting for it; ``crashed`` it died or
    could not start (the supervisor's ``last_error`` says why)."""

    STOPPED = "stopped"
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    STOPPING = "stopping"
    CRASHED = "crashed"
