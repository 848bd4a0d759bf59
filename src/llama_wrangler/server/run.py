"""One launch of a model server: what it serves, where, and how it went (see the supervisor)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from llama_wrangler.errors import ServerError
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.server.backend import ServerBackend
from llama_wrangler.server.ports import choose_port, connect_host, url_host
from llama_wrangler.server.process import ProcessOutcome, ServerProcess
from llama_wrangler.settings import ServerSettings


@dataclass(frozen=True)
class ServeTarget:
    """A model to serve, under the id clients name it by, loaded with its own settings (``load``; None or
    default: the global ones). Two targets are equal when they would start the same server: settings that
    only say how long it stays loaded (``idle_ttl_s``, ``pinned``) are no reason to restart it."""

    model_path: Path
    model_id: str
    mmproj: Path | None = None  # its vision projector
    load: LoadSettings | None = field(default=None, compare=False)
    _launch_load: LoadSettings | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.load is not None and self.load.is_default:
            object.__setattr__(self, "load", None)
        launch = None if self.load is None else replace(self.load, idle_ttl_s=None, pinned=False)
        object.__setattr__(self, "_launch_load", None if launch is None or launch.is_default else launch)


@dataclass(eq=False)
class ServerRun:
    """One launched server process. Its state is the supervisor's ``state``, not kept here; the
    generation tells replies meant for this run from those of an earlier one."""

    generation: int
    target: ServeTarget
    backend: ServerBackend  # the one it was started with: it says how to tell that this run is ready
    process: ServerProcess
    base_url: str
    port: int
    deadline: float  # time.monotonic() by which it must be ready
    failure: str | None = None  # set when *we* gave up on it (timeout, wrong server); reported at exit
    argv: list[str] = field(default_factory=list)  # the command line it was started with

    def tail_text(self) -> str:
        """Its last output, for an error message."""
        lines = self.process.tail()
        if not lines:
            return " It printed nothing."
        return " Last output:\n" + "\n".join(lines)

    def foreign_server(self, props: dict[str, Any]) -> str | None:
        """Why the server that answered is not ours (its ``/props`` names another model), or None."""
        served = props.get("model_path")
        if isinstance(served, str) and served and Path(served) != self.target.model_path:
            return (f"Another server answered on port {self.port} (serving {served}), "
                    "not the one Llama Wrangler started.")
        return None

    def exit_message(self, outcome: ProcessOutcome, *, was_ready: bool) -> str:
        """Why it ended, for the user, when nobody asked it to."""
        if self.failure is not None:
            return self.failure
        if outcome.start_error:
            return str(outcome)
        if was_ready:
            return f"llama-server crashed ({outcome.how})." + self.tail_text()
        return f"llama-server exited during start ({outcome.how})." + self.tail_text()


def prepare_run(backend: ServerBackend, settings: ServerSettings, target: ServeTarget, generation: int, *,
                log_path: Path | None, parent: QObject) -> ServerRun:
    """A run ready to start (its process not started yet), with the target's own load settings over
    ``settings``. Raises ServerError (or ValueError for a bad port) when the server, the model or its
    chat template file is missing or the port is taken."""
    if not backend.program.is_file():
        raise ServerError(f"llama-server was not found at {backend.program}.",
                          hint="Install or build the llama.cpp runtime first.")
    if not target.model_path.is_file():
        raise ServerError(f"The model file {target.model_path} does not exist.")
    port = choose_port(settings.host, settings.port, settings.port_conflict)
    if target.mmproj is not None and not target.mmproj.is_file():
        raise ServerError(f"The vision projector {target.mmproj} of {target.model_id} does not exist.")
    load = target.load or LoadSettings()
    template = load.template_argv()
    if template[:1] == ["--chat-template-file"] and not Path(template[1]).is_file():
        raise ServerError(f"The chat template file {template[1]} of {target.model_id} does not exist.",
                          hint=f"Choose another in its load settings (`llama-wrangler configure {target.model_id}`).")
    argv = backend.argv(load.apply(settings), target.model_path, target.model_id, port, mmproj=target.mmproj,
                        template=template)
    process = ServerProcess(argv, log_path=log_path, parent=parent)
    return ServerRun(generation=generation, target=target, backend=backend, process=process,
                     base_url=f"http://{url_host(connect_host(settings.host))}:{port}", port=port,
                     deadline=time.monotonic() + settings.health_timeout_s, argv=argv)
