"""``serve MODEL``: run llama-server for a library model in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import SettingsError, WranglerError
from llama_wrangler.settings import ServerSettings, describe_validation_error

if TYPE_CHECKING:
    from llama_wrangler.library.load_settings import LoadSettings
    from llama_wrangler.runtime.runtime_info import LlamaRuntime
    from llama_wrangler.server.argv import RpcPlan
    from llama_wrangler.server.endpoint.link import Resolver
    from llama_wrangler.server.run import ServeTarget
    from llama_wrangler.services.model_actions import ModelActions


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    parser = subparsers.add_parser(
        "serve", help="serve a model with llama-server (foreground; Ctrl-C stops it)",
        description="Start llama-server for MODEL (a library id, name, unique id prefix, or a .gguf path), "
        "print its state changes and endpoint, and stop it cleanly on Ctrl-C. While it runs, type another "
        "MODEL and Enter to switch to it; with server.stable_endpoint (the default) the endpoint stays the same, "
        "requests wait instead of failing, a request naming a library model loads it, and several models stay "
        "loaded side by side when memory allows (server.max_models, server.memory_limit_gb). Each model loads "
        "with its own load settings (`llama-wrangler configure MODEL`); the options below override the server "
        "settings and those for this run only.")
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--port", type=int, help="port (default: settings, 8080)")
    parser.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--ctx", type=int, dest="context_size", help="context size in tokens (0 = the model's)")
    parser.add_argument("--ngl", type=int, dest="gpu_layers", help="layers to offload to the GPU (-1 = all)")
    parser.add_argument("--threads", type=int, help="CPU threads (0 = automatic)")
    parser.add_argument("--parallel", type=int, help="parallel request slots")
    parser.add_argument("--api-key", dest="api_key", help="API key clients must send")
    parser.add_argument("--pool", action="store_true",
                        help="split the model across the pool's RPC workers (see `llama-wrangler pool`)")
    parser.add_argument("--tensor-split", dest="tensor_split", metavar="SHARES",
                        help="with --pool: share of the model per worker, e.g. 3,1")
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


def _load_overrides(args: argparse.Namespace) -> LoadSettings:
    """The load options given on the command line: they win over each model's stored settings."""
    from llama_wrangler.library.load_settings import LoadSettings

    return LoadSettings(**{name: getattr(args, name) for name in ("context_size", "gpu_layers", "threads",
                                                                  "parallel")})


def serve(args: argparse.Namespace, context: CliContext) -> int:
    from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer

    from llama_wrangler.cli.context import open_library
    from llama_wrangler.runtime.locate import locate_runtime
    from llama_wrangler.runtime.verify import checked_runtime
    from llama_wrangler.server.fleet import ServerFleet
    from llama_wrangler.server.state import ServerState
    from llama_wrangler.server.supervisor import ServerSupervisor
    from llama_wrangler.services.endpoint import EndpointService
    from llama_wrangler.services.messages import Messenger
    from llama_wrangler.services.model_actions import ModelActions
    from llama_wrangler.services.pool import lost_message, lost_workers
    from llama_wrangler.services.serve_target import resolve_target
    from llama_wrangler.services.stop_signals import StopSignals

    settings = _server_settings(args, context.settings.server)
    overrides = _load_overrides(args)  # already checked by _server_settings
    library = open_library(context)
    # A wrong name fails before anything runs.
    target = resolve_target(library, args.model, allow_path=True).overridden_by(overrides)
    runtime = checked_runtime(locate_runtime(context.settings, context.paths))

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    messenger = Messenger()
    messenger.shown.connect(_print_message)
    supervisor = ServerFleet(ServerSupervisor(runtime, settings, log_file=context.paths.server_log_file))
    pool_workers: list[str] = []
    if args.pool or context.settings.pool.enabled:
        supervisor.set_rpc(_checked_pool(args, context, runtime))
        pool_workers = list(supervisor.rpc.workers) if supervisor.rpc else []
    # The same services the window uses: the model named here, on the stdin prompt or by an API request
    # is resolved and served by ModelActions; the stable endpoint is the window's EndpointService.
    actions = ModelActions(library, supervisor, None, messenger)
    endpoint = EndpointService(supervisor, _resolver(actions, overrides))
    # Bound before llama-server starts: a busy port fails at once (strict), before any model loads.
    endpoint.apply(settings, opening=True, strict=True)
    endpoint.set_models(actions.models())
    endpoint.swap_requested.connect(lambda ref: print(f"a request asks for {ref}…", flush=True))
    outcome = {"status": 0, "stopping": False}

    def print_ready() -> None:
        ctx = supervisor.context_size
        print(f"ready: {supervisor.client_endpoint}  model={supervisor.model_id}  n_ctx={ctx}  "
              "(OpenAI-compatible: /v1/chat/completions, /v1/completions)", flush=True)

    def on_focus(_model: str) -> None:
        if supervisor.state is ServerState.READY:  # switched to a model that was loaded already
            print("server: ready", flush=True)
            print_ready()

    def on_state(old: str, new: str) -> None:
        print(f"server: {new}", flush=True)
        if new == ServerState.READY:
            print_ready()
        elif new == ServerState.STOPPED and outcome["stopping"]:
            app.quit()
        elif new == ServerState.CRASHED:
            QTimer.singleShot(0, check_crash)  # after the supervisor decided on an automatic restart

    def check_crash() -> None:
        if supervisor.state is ServerState.CRASHED and not supervisor.restart_scheduled:
            lost = lost_workers(pool_workers)  # a terminal may wait a second for the answer
            if lost:
                _print_message("error", lost_message(lost), "")
            outcome["status"] = 1
            app.quit()

    supervisor.state_changed.connect(on_state)
    supervisor.focus_changed.connect(on_focus)
    supervisor.error.connect(lambda message: _print_message("error", message, ""))
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
            new_target = actions.resolve(ref, allow_path=True).overridden_by(overrides)
        except WranglerError as exc:
            _print_message("error", str(exc), "")
            return
        print(f"switching to {new_target.model_id}…", flush=True)
        actions.serve_target(new_target)

    stop = StopSignals(request_stop)
    try:
        actions.serve_target(target)
        if supervisor.state is not ServerState.CRASHED:
            app.exec()
    finally:
        stop.remove()
        supervisor.shutdown()
        endpoint.close()
        actions.close()
        if stdin_notifier is not None:
            stdin_notifier.setEnabled(False)
            stdin_notifier.deleteLater()
    if supervisor.state is ServerState.CRASHED:
        return 1
    return int(outcome["status"])


def _resolver(actions: ModelActions, overrides: LoadSettings) -> Resolver:
    def resolve(ref: str) -> ServeTarget:
        return actions.resolve(ref, allow_path=True).overridden_by(overrides).server_target()

    return resolve


def _print_message(level: str, text: str, _details: str) -> None:
    if level == "info":
        print(text, flush=True)
    else:
        print(f"llama-wrangler: {level}: {text}", file=sys.stderr, flush=True)


def _checked_pool(args: argparse.Namespace, context: CliContext, runtime: LlamaRuntime) -> RpcPlan:
    """Check every pool worker before anything loads; print what each offers."""
    from llama_wrangler.services.pool import check_workers, pooled_free_bytes, rpc_plan
    from llama_wrangler.settings import PoolSettings
    from llama_wrangler.units import human_bytes

    pool = context.settings.pool
    if args.tensor_split is not None:
        try:
            pool = PoolSettings.model_validate({**pool.model_dump(), "tensor_split": args.tensor_split})
        except ValidationError as exc:
            raise SettingsError(f"Invalid option: {describe_validation_error(exc)}.") from None
    statuses = check_workers(pool.worker_list(), runtime)
    for status in statuses:
        print(f"pool: {status.describe()}", flush=True)
    plan = rpc_plan(pool, statuses)
    print(f"pool: splitting the model across {len(plan.workers)} workers "
          f"({human_bytes(pooled_free_bytes(statuses))} free)", flush=True)
    return plan

