"""``runtime status`` / ``runtime install`` / ``runtime toolchain``: the llama.cpp runtime from the terminal."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.runtime import sources
from llama_wrangler.runtime.backends import Platform, detect_backend, list_gpus
from llama_wrangler.runtime.install import InstallRequest, InstallStep, install_runtime, install_toolchain
from llama_wrangler.runtime.locate import find_runtime, read_manifest
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.release import install_release
from llama_wrangler.runtime.sources import SourceKind
from llama_wrangler.runtime.toolchain import toolchain_status
from llama_wrangler.runtime.verify import verify_runtime
from llama_wrangler.settings import Backend

T = TypeVar("T")
WHERE_WORDS = {"settings": "the path set in the settings", "app": "the app's data folder", "path": "PATH",
               "homebrew": "a Homebrew folder", "python": "llama-cpp-python in this Python (fallback)"}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    runtime = subparsers.add_parser("runtime", help="find, check, build or install llama.cpp")
    sub = runtime.add_subparsers(dest="runtime_command", metavar="ACTION", required=True)

    status = sub.add_parser("status", help="what llama.cpp runtime is found, its version, backend and GPUs")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=status_command)

    install = sub.add_parser("install", help=f"build or install the pinned llama.cpp ({PINNED.tag})",
                             description="With no source option: the official source archive, then the "
                             "PyPI sdist of llama-cpp-python (same tree). Ctrl-C cancels.")
    group = install.add_mutually_exclusive_group()
    group.add_argument("--source", type=Path, metavar="PATH", help="build from a local llama.cpp source folder")
    group.add_argument("--release", action="store_true", help="download the prebuilt release (no compiler)")
    group.add_argument("--pypi", action="store_true", help="build from the llama-cpp-python sdist on PyPI")
    group.add_argument("--archive", action="store_true", help="build from the official source archive")
    install.add_argument("--backend", choices=[b.value for b in Backend], default=Backend.AUTO.value,
                         help="GPU backend (default: the settings' choice, else detected)")
    install.add_argument("--no-toolchain", action="store_true",
                         help="skip the conversion environment (torch, transformers)")
    install.add_argument("--jobs", type=int, default=None, help="parallel compile jobs (default: all cores)")
    install.set_defaults(handler=install_command)

    toolchain = sub.add_parser("toolchain", help="create the conversion environment for the installed runtime")
    toolchain.set_defaults(handler=toolchain_command)


# ----------------------------------------------------------------------------------------- status
def gather_status(context: CliContext) -> dict[str, Any]:
    """Everything ``runtime status`` reports, as plain data."""
    plat = Platform.current()
    detection = detect_backend(plat)
    report: dict[str, Any] = {
        "pinned": {"tag": PINNED.tag, "build_number": PINNED.build_number, "commit": PINNED.commit},
        "gpus": list_gpus(),
        "buildable_backend": detection.backend.value,
        "buildable_backend_reason": detection.reason,
        "found": False,
    }
    try:
        found = find_runtime(context.settings, context.paths)
    except LlamaRuntimeError as exc:
        report["problem"] = str(exc)
        return report
    runtime = found.runtime
    report.update(found=True, where=found.where, where_text=WHERE_WORDS.get(found.where, found.where),
                  server=str(runtime.server), quantize=str(runtime.quantize) if runtime.quantize else None,
                  root=str(runtime.root) if runtime.root else None, backend=runtime.backend,
                  rpc_server=str(runtime.rpc_server) if runtime.rpc_server else None)
    if runtime.backend != "llama-cpp-python":
        try:
            verified = verify_runtime(runtime)
        except LlamaRuntimeError as exc:
            report["problem"] = str(exc)
            report["usable"] = False
        else:
            info = verified.info
            report.update(build_number=verified.runtime.build_number, commit=verified.runtime.commit,
                          version=info.version, compiler=info.compiler, devices=list(info.devices),
                          backend=verified.runtime.backend, usable=verified.usable)
            report["is_pinned"] = bool(verified.runtime.commit and PINNED.commit.startswith(verified.runtime.commit))
            if verified.problem:
                report["problem"] = verified.problem
    else:
        report["usable"] = True
    if runtime.root is not None:
        manifest = read_manifest(runtime.root)
        if manifest:
            report["manifest"] = {k: manifest.get(k) for k in ("version", "source", "date", "flags")}
        tc = toolchain_status(runtime.root, check_imports=True)
        report["toolchain"] = {"state": tc.state.value, "script": str(tc.script) if tc.script else None,
                               "python": str(tc.python) if tc.python else None, "detail": tc.detail}
    else:
        report["toolchain"] = {"state": "none", "script": None, "python": None,
                               "detail": "only the app's own runtime dir carries the conversion toolchain"}
    return report


def format_status(report: dict[str, Any]) -> str:
    lines = [f"Pinned version: llama.cpp {report['pinned']['tag']} (commit {report['pinned']['commit'][:9]})"]
    if not report["found"]:
        lines.append(f"llama.cpp runtime: not found. {report.get('problem', '')}".rstrip())
    else:
        lines.append(f"llama.cpp runtime: found in {report['where_text']}")
        lines.append(f"  llama-server:   {report['server']}")
        lines.append(f"  llama-quantize: {report.get('quantize') or 'missing'}")
        lines.append(f"  RPC worker:     {report.get('rpc_server') or 'missing (pools need a rebuild with GGML_RPC)'}")
        if report.get("build_number") is not None or report.get("commit"):
            build = report.get("build_number")
            pinned = " — the pinned version" if report.get("is_pinned") else ""
            lines.append(f"  version:        build {build if build is not None else 'unknown'}, "
                         f"commit {report.get('commit') or 'unknown'}"
                         + (f" ({report['version']})" if report.get("version") else "") + pinned)
        lines.append(f"  backend:        {report.get('backend')}")
        if report.get("devices"):
            lines.append(f"  devices:        {'; '.join(report['devices'])}")
        if report.get("manifest", {}).get("source"):
            lines.append(f"  installed from: {report['manifest']['source']} on {report['manifest'].get('date')}")
        if report.get("problem"):
            lines.append(f"  PROBLEM:        {report['problem']}")
        tc = report["toolchain"]
        detail = f" ({tc['detail']})" if tc.get("detail") else ""
        lines.append(f"  conversion:     {tc['state']}{detail}")
    gpus = report["gpus"]
    lines.append(f"GPUs seen: {', '.join(gpus) if gpus else 'none'}")
    lines.append(f"A build here would use: {report['buildable_backend']} ({report['buildable_backend_reason']})")
    return "\n".join(lines)


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    report = gather_status(context)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_status(report))
    return 0 if report["found"] and report.get("usable", False) else 1


# ---------------------------------------------------------------------------------------- install
class TerminalProgress:
    """A one-line progress bar on a terminal; one line per stage (and each 10%) when not a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, progress: Progress) -> None:
        fraction = progress.fraction
        if self._tty:
            if fraction is not None:
                filled = int(fraction * 30)
                bar = f"[{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:3.0f}%"
            else:
                bar = "[working...]"
            text = f"\r{progress.stage:<16} {bar} {progress.message[:60]:<60}"
            self._stream.write(text)
            self._stream.flush()
            return
        step = int(fraction * 10) if fraction is not None else -1
        if (progress.stage, step) != self._last:
            self._last = (progress.stage, step)
            amount = f" {step * 10}%" if step >= 0 else ""
            print(f"{progress.stage}{amount}: {progress.message}", file=self._stream, flush=True)

    def end(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


def run_cancellable(job: Callable[[CancelToken], T]) -> T:
    """Run ``job`` on a worker thread; Ctrl-C cancels it (killing any build) and waits for it to clean up."""
    token = CancelToken()
    done = threading.Event()
    result: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(job(token))
        except BaseException as exc:  # handed to the main thread
            error.append(exc)
        finally:
            done.set()

    # An Event, not Thread.join: on Python 3.11 a KeyboardInterrupt inside join() can mark the thread as
    # finished while it still runs (CPython gh-90882), and we must wait for the cancel to clean up.
    threading.Thread(target=work, name="runtime-install", daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        print("\nCancelling...", file=sys.stderr, flush=True)
        token.cancel()
        done.wait()
        print("Cancelled; nothing was installed.", file=sys.stderr, flush=True)
        raise  # the CLI's KeyboardInterrupt handling: exit status 130
    if error:
        raise error[0]
    return result[0]


def install_command(args: argparse.Namespace, context: CliContext) -> int:
    paths = context.paths.ensure()
    backend = Backend(args.backend)
    progress = TerminalProgress()

    def job(token: CancelToken) -> InstallStep:
        if args.release:
            step = install_release(context.settings, paths, backend=backend, progress=progress, cancel=token)
            if not args.no_toolchain and step.runtime.root is not None:
                work = paths.cache_dir / "runtime-build" / "toolchain-sources"
                install_toolchain(step.runtime.root, progress=progress, cancel=token, log_dir=paths.log_dir,
                                  tree_getter=lambda: sources.from_pypi(work, download_dir=paths.downloads_dir,
                                                                        progress=progress, cancel=token))
            return step
        kind = SourceKind.PYPI if args.pypi else SourceKind.ARCHIVE if args.archive else None
        request = InstallRequest(source=kind, local_path=args.source, backend=backend,
                                 toolchain=not args.no_toolchain, jobs=args.jobs)
        return install_runtime(context.settings, paths, request, progress=progress, cancel=token)

    try:
        step = run_cancellable(job)
    finally:
        progress.end()
        shutil.rmtree(paths.cache_dir / "runtime-build" / "toolchain-sources", ignore_errors=True)
    for note in step.notes:
        print(f"note: {note}")
    runtime = step.runtime
    print(f"Installed llama.cpp from {step.source}")
    print(f"  into {runtime.root}")
    if step.build_seconds is not None:
        print(f"  build took {step.build_seconds:.0f} s")
    print(f"  llama-server: {runtime.server}")
    print(f"  conversion:   {'ready' if runtime.convert_python else 'not installed'}")
    return 0


def toolchain_command(args: argparse.Namespace, context: CliContext) -> int:
    found = find_runtime(context.settings, context.paths, allow_pyserver=False)
    root = found.runtime.root
    if root is None:
        raise LlamaRuntimeError("The conversion toolchain lives in the app's own runtime, and none is installed.",
                                hint="Run `llama-wrangler runtime install` first.")
    progress = TerminalProgress()
    paths = context.paths.ensure()

    def job(token: CancelToken) -> Path:
        work = paths.cache_dir / "runtime-build" / "toolchain-sources"
        return install_toolchain(root, progress=progress, cancel=token, log_dir=paths.log_dir,
                                 tree_getter=lambda: sources.from_pypi(work, download_dir=paths.downloads_dir,
                                                                       progress=progress, cancel=token))

    try:
        venv = run_cancellable(job)
    finally:
        progress.end()
        shutil.rmtree(paths.cache_dir / "runtime-build" / "toolchain-sources", ignore_errors=True)
    print(f"Conversion toolchain ready in {venv}")
    return 0
