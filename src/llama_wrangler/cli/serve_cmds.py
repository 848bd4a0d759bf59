"""``serve MODEL``: run llama-server for a library model in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import ModelNotFoundError, ServerError, SettingsError, WranglerError
from llama_wrangler.settings import ServerSettings, describe_validation_error

if TYPE_CHECKING:
    from llama_wrangler.server.stable_link import StableLink
    from llama_wrangler.server.supervisor import ServerSupervisor


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    parser = subparsers.add_parser(
        "serve", help="serve a model with llama-server (foreground; Ctrl-C stops it)",
        description="Start llama-server for MODEL (a library id, name, unique id prefix, or a .gguf path), "
        "print its state changes and endpoint, and stop it cleanly on Ctrl-C. While it runs, type another "
        "MODEL and Enter to swap to it; with server.stable_endpoint (the default) the endpoint stays the same "
        "across swaps, requests wait instead of failing, and a request naming a library model swaps to it. "
        "Options override the server settings for this run only.")
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--port", type=int, help="port (default: settings, 8080)")
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--ctx", type=int, dest="context_size", help="context size in tokens (0 = the model's)")
    parser.add_argument("--ngl", type=int, dest="gpu_layers", help="layers to offload to the GPU (-1 = all)")
    parser.add_argument("--threads", type=int, help="CPU threads (0 = automatic)")
    parser.add_argument("--parallel", type=int, help="parallel request slots")
    parser.add_argument("--api-key", dest="api_key", help="API key clients must send")
    parser.add_argument("-v", "--verbose", action="store_true", help="print llama-server's own output too")
    parser.set_defaults(handler=serve)


def _server_settings(args: argparse.Namespace, base: ServerSettings) -> ServerSettings:
    overrides = {name: getattr(args, name) for name in
                 ("port", "host", "context_size", "gpu_layers", "threads", "parallel", "api_key")
                 if getattr(args, name) is not None}
    try:
        return ServerSettings.model_validate({**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise SettingsError(f"Invalid option: {describe_validation_error(exc)}.") from None


def _resolve_model(ref: str, context: CliContext) -> tuple[Path, str]:
    # The library as every other command opens it: with the settings' models folder, which an
    # unreadable registry is rebuilt from.
    from llama_wrangler.cli.library_cmds import open_library

    try:
        record = open_library(context).get(ref)
    except ModelNotFoundError:
        path = Path(ref).expanduser()
        if path.suffix.lower() == ".gguf" and path.is_file():  # a file not (yet) in the library
            return path.resolve(), path.stem
        raise
    if record.missing:
        raise ServerError(f"The file of model {record.id} is missing: {record.path}.")
    return record.path, record.id


def serve(args: argparse.Namespace, context: CliContext) -> int:
    from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer

    from llama_wrangler.runtime.locate import locate_runtime
    from llama_wrangler.runtime.verify import checked_runtime
    from llama_wrangler.server.state import ServerState
    from llama_wrangler.server.supervisor import ServerSupervisor

    settings = _server_settings(args, context.settings.server)
    model_path, model_id = _resolve_model(args.model, context)
    runtime = checked_runtime(locate_runtime(context.settings, context.paths))

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    # Qt-free to build, so it is bound before llama-server starts: a busy port fails at once.
    link = _CliStableEndpoint(settings, context) if settings.stable_endpoint else None
    supervisor = ServerSupervisor(runtime, link.backend_settings if link else settings,
                                  log_file=context.paths.server_log_file)
    if link is not None:
        link.attach(supervisor)
    outcome = {"status": 0, "stopping": False}

    def on_state(old: str, new: str) -> None:
        print(f"server: {new}", flush=True)
        if new == ServerState.READY:
            ctx = supervisor.context_size
            print(f"ready: {supervisor.client_endpoint}  model={supervisor.model_id}  n_ctx={ctx}  "
                  "(OpenAI-compatible: /v1/chat/completions, /v1/completions)", flush=True)
        elif new == ServerState.STOPPED and outcome["stopping"]:
            app.quit()
        elif new == ServerState.CRASHED:
            QTimer.singleShot(0, check_crash)  # after the supervisor decided on an automatic restart

    def check_crash() -> None:
        if supervisor.state is ServerState.CRASHED and not supervisor.restart_scheduled:
            outcome["status"] = 1
            app.quit()

    def on_error(message: str) -> None:
        print(f"llama-wrangler: error: {message}", file=sys.stderr, flush=True)

    supervisor.state_changed.connect(on_state)
    supervisor.error.connect(on_error)
    if args.verbose:
        supervisor.log_line.connect(lambda line: print(f"  | {line}", flush=True))

    def request_stop() -> None:
        if not outcome["stopping"]:
            outcome["stopping"] = True
            print("stopping…", flush=True)
            if supervisor.state in (ServerState.STOPPED, ServerState.CRASHED):
                app.quit()
            else:
                supervisor.stop()

    # Python runs signal handlers only between bytecodes, which never happens inside Qt's event loop:
    # the wakeup fd turns a signal into readable bytes on a socket the event loop watches.
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def on_wakeup() -> None:
        with contextlib.suppress(BlockingIOError):
            reader.recv(64)
        request_stop()

    notifier.activated.connect(on_wakeup)

    # While serving, a model ref typed on stdin (one per line) swaps to that model. POSIX only: Qt cannot
    # watch a Windows console handle with a socket notifier.
    stdin_notifier = None
    pending = bytearray()
    if os.name != "nt" and sys.stdin is not None and not sys.stdin.closed:
        stdin_fd = sys.stdin.fileno()
        stdin_notifier = QSocketNotifier(stdin_fd, QSocketNotifier.Type.Read)

        def on_stdin() -> None:
            chunk = os.read(stdin_fd, 4096)
            if not chunk:  # EOF (e.g. stdin is /dev/null): keep serving, stop watching
                if stdin_notifier is not None:
                    stdin_notifier.setEnabled(False)
                return
            pending.extend(chunk)
            while b"\n" in pending:
                line, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                swap_to(line.decode("utf-8", errors="replace").strip())

        stdin_notifier.activated.connect(on_stdin)

    def swap_to(ref: str) -> None:
        if not ref or outcome["stopping"]:
            return
        try:
            path, new_id = _resolve_model(ref, context)
        except WranglerError as exc:
            print(f"llama-wrangler: error: {exc}", file=sys.stderr, flush=True)
            return
        print(f"swapping to {new_id}…", flush=True)
        supervisor.start(path, new_id)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        pass  # the wakeup fd does the work; this only keeps Python from raising KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in _stop_signals()}
    try:
        supervisor.start(model_path, model_id)
        if supervisor.state is not ServerState.CRASHED:
            app.exec()
    finally:
        supervisor.shutdown()
        if link is not None:
            link.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        notifier.deleteLater()
        if stdin_notifier is not None:
            stdin_notifier.setEnabled(False)
            stdin_notifier.deleteLater()
        reader.close()
        writer.close()
    if supervisor.state is ServerState.CRASHED:
        return 1
    return int(outcome["status"])


class _CliStableEndpoint:
    """The stable endpoint of one ``serve`` run: bound before llama-server starts (a busy port is an error
    right away), attached to the supervisor once it exists; a request naming a library model swaps to it."""

    def __init__(self, settings: ServerSettings, context: CliContext) -> None:
        from llama_wrangler.cli.library_cmds import open_library
        from llama_wrangler.server.backend_gate import BackendGate
        from llama_wrangler.server.stable_link import backend_settings, open_stable_endpoint

        self._context = context
        self.endpoint = open_stable_endpoint(settings, BackendGate(), routing=True)
        self.backend_settings = backend_settings(settings)
        self.model_ids = [record.id for record in open_library(context).models() if not record.missing]
        self._link: StableLink | None = None

    def attach(self, supervisor: ServerSupervisor) -> None:
        from llama_wrangler.server.stable_link import StableLink

        self._link = StableLink(supervisor, self.endpoint, resolve=self._resolve)
        self._link.set_catalog(self.model_ids)
        self._link.swap_requested.connect(lambda ref: print(f"a request asks for {ref}…", flush=True))
        self.endpoint.start()

    def _resolve(self, ref: str) -> tuple[Path, str]:
        return _resolve_model(ref, self._context)

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
        else:
            self.endpoint.close()


def _stop_signals() -> list[signal.Signals]:
    signals = [signal.SIGINT]
    if os.name != "nt":
        signals += [signal.SIGTERM, signal.SIGHUP]
    return signals
