"""``worker`` (this computer as an RPC worker, in the foreground) and ``pool add|remove|list`` (the
workers ``serve --pool`` splits a model across)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import SettingsError, WranglerError
from llama_wrangler.runtime.rpc_protocol import WorkerError, parse_address
from llama_wrangler.settings import PoolSettings, save_settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    worker = subparsers.add_parser(
        "worker", help="run this computer as a llama.cpp RPC worker for a pool (foreground; Ctrl-C stops it)",
        description="Run llama.cpp's RPC worker (ggml-rpc-server) so another computer can split a model "
        "across this one: `llama-wrangler serve MODEL --pool` there, with this address in its pool. It binds "
        "127.0.0.1 unless --host says otherwise; the RPC protocol has no authentication, so binding anything "
        "else needs --expose and should only be done on a private network or through a tunnel.")
    worker.add_argument("--host", default=None, help="address to bind (default: settings, 127.0.0.1)")
    worker.add_argument("--port", type=int, default=None, help="port (default: settings, 50052)")
    worker.add_argument("--threads", type=int, default=0, help="CPU threads (default: all)")
    worker.add_argument("--cache", action="store_true", help="cache received tensors on disk (faster reloads)")
    worker.add_argument("--expose", action="store_true",
                        help="allow binding an address other than loopback (read the warning it prints)")
    worker.add_argument("-v", "--verbose", action="store_true", help="print the worker's own output too")
    worker.set_defaults(handler=cmd_worker)

    pool = subparsers.add_parser("pool", help="the RPC workers `serve --pool` splits models across",
                                 description="Keep the list of llama.cpp RPC workers (host:port) in the settings "
                                 "and check them: reachable, the same llama.cpp build, free memory.")
    actions = pool.add_subparsers(dest="pool_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a worker")
    add.add_argument("address", metavar="HOST:PORT")
    remove = actions.add_parser("remove", help="remove a worker")
    remove.add_argument("address", metavar="HOST:PORT")
    actions.add_parser("list", help="list the workers and check each one")
    pool.set_defaults(handler=cmd_pool)


def cmd_pool(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    workers = settings.pool.worker_list()
    if args.pool_action in ("add", "remove"):
        host, port = parse_address(args.address)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if args.pool_action == "add":
            if address in workers:
                print(f"{address} is already in the pool.")
                return 0
            workers.append(address)
        else:
            if address not in workers:
                raise WorkerError(f"{address} is not in the pool.", hint="`llama-wrangler pool list` shows it.")
            workers.remove(address)
        pool = PoolSettings.model_validate({**settings.pool.model_dump(), "workers": ",".join(workers)})
        try:
            save_settings(context.paths.settings_file, settings.model_copy(update={"pool": pool}))
        except SettingsError as exc:
            raise WranglerError(f"The pool could not be saved: {exc}") from None
        print(f"{'Added' if args.pool_action == 'add' else 'Removed'} {address}; the pool has {len(workers)} "
              f"worker{'s' if len(workers) != 1 else ''}.")
        return 0
    return _list(context, workers)


def _list(context: CliContext, workers: list[str]) -> int:
    from llama_wrangler.runtime.locate import locate_runtime
    from llama_wrangler.services.pool import check_workers, pooled_free_bytes
    from llama_wrangler.units import human_bytes

    if not workers:
        print("The pool is empty. Add a worker with `llama-wrangler pool add HOST:PORT`.")
        return 0
    statuses = check_workers(workers, locate_runtime(context.settings, context.paths))
    for status in statuses:
        print(("ok    " if status.usable else "FAIL  ") + status.describe())
    print(f"Pooled memory: {human_bytes(pooled_free_bytes(statuses))} free on "
          f"{sum(status.usable for status in statuses)} of {len(statuses)} workers.")
    return 0 if all(status.usable for status in statuses) else 1


def cmd_worker(args: argparse.Namespace, context: CliContext) -> int:
    from PySide6.QtCore import QCoreApplication

    from llama_wrangler.runtime.locate import locate_runtime
    from llama_wrangler.server.state import ServerState
    from llama_wrangler.server.worker import WorkerOptions, WorkerSupervisor, exposure_warning, is_loopback
    from llama_wrangler.services.stop_signals import StopSignals

    host = args.host or context.settings.pool.worker_host
    port = args.port or context.settings.pool.worker_port
    if not is_loopback(host):
        if not args.expose:
            raise WranglerError(f"Binding the worker to {host} exposes it beyond this computer.",
                                hint="Add --expose if you mean it (read the warning it prints), or keep 127.0.0.1 "
                                "and use an SSH tunnel.")
        print(exposure_warning(host), file=sys.stderr, flush=True)
    runtime = locate_runtime(context.settings, context.paths)
    if runtime.rpc_server is None:
        raise WranglerError("This llama.cpp runtime has no RPC worker (ggml-rpc-server).",
                            hint="Rebuild it with `llama-wrangler runtime install` (our builds include it).")
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    worker = WorkerSupervisor(runtime.rpc_server, log_file=context.paths.worker_log_file)
    options = WorkerOptions(host=host, port=port, threads=args.threads, cache=args.cache)
    status = {"code": 0}

    def on_state(_old: str, new: str) -> None:
        print(f"worker: {new}", flush=True)
        if new == ServerState.READY:
            print(f"ready: add {options.address} to the pool on the serving computer "
                  f"(llama-wrangler pool add {options.address})", flush=True)
        elif new == ServerState.STOPPED or (new == ServerState.CRASHED and not worker.restart_scheduled):
            status["code"] = 0 if new == ServerState.STOPPED else 1
            app.quit()

    worker.state_changed.connect(on_state)
    worker.error.connect(lambda message: print(f"llama-wrangler: error: {message}", file=sys.stderr, flush=True))
    if args.verbose:
        worker.log_line.connect(lambda line: print(f"  | {line}", flush=True))
    stop = StopSignals(worker.stop)
    try:
        worker.start(options)
        app.exec()
    finally:
        stop.remove()
        worker.shutdown()
    return status["code"]
