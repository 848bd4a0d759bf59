"""What the app knows about its llama.cpp runtime, in one object the llama.cpp page, the first-run banner
and the Install button all read: found or not, where, which build, backend, GPUs, conversion toolchain,
how it differs from the pinned version, and what installing one here would take.

Runs ``llama-server --version`` (and ``--list-devices``): call it off the GUI thread.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.backends import (
    Platform,
    Which,
    choose_backend,
    install_hint,
    list_gpus,
    missing_build_tools,
)
from llama_wrangler.runtime.locate import find_runtime, read_manifest
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.toolchain import ToolchainState, toolchain_status
from llama_wrangler.runtime.verify import verify_runtime
from llama_wrangler.settings import Settings

WHERE_WORDS = {"settings": "the llama-server chosen in the settings", "app": "the app's own llama.cpp folder",
               "path": "PATH", "homebrew": "a Homebrew folder",
               "python": "llama-cpp-python in this Python (fallback)"}


class RuntimeState(StrEnum):
    """Its own vocabulary: a missing or broken runtime is never a "crashed" server."""

    MISSING = "missing"
    BROKEN = "broken"  # found, but it does not run (wrong system, a missing library, not llama.cpp)
    TOO_OLD = "too old"  # runs, but older than the flags we pass need
    READY = "ready"


# (headline, what to do) for each state: the banner and the llama.cpp page say the same words.
STATE_WORDS: dict[RuntimeState, tuple[str, str]] = {
    RuntimeState.MISSING: ("llama.cpp is needed to run models",
                           "Llama Wrangler serves models with llama.cpp's llama-server, and none is installed "
                           "yet. Install it here; it takes a minute with a prebuilt release, longer when it "
                           "has to be built."),
    RuntimeState.BROKEN: ("The llama.cpp found here does not run",
                          "Install the tested version, or choose another llama-server."),
    RuntimeState.TOO_OLD: ("The llama.cpp found here is too old",
                           "Install the tested version, or choose a newer llama-server."),
    RuntimeState.READY: ("llama.cpp is ready", ""),
}


@dataclass(frozen=True)
class RuntimeReport:
    state: RuntimeState
    problem: str = ""  # why it is missing, broken or too old (a sentence for the user)
    where: str = ""  # 'settings', 'app', 'path', 'homebrew', 'python'
    server: Path | None = None
    quantize: Path | None = None
    root: Path | None = None
    build_number: int | None = None
    commit: str | None = None
    version: str | None = None
    compiler: str | None = None
    backend: str = ""
    devices: tuple[str, ...] = ()
    installed_from: str = ""
    toolchain: str = ""  # a ToolchainState value, or '' when this runtime cannot carry one
    gpus: tuple[str, ...] = ()
    build_backend: str = "cpu"  # what an install here would build or download
    build_backend_reason: str = ""
    missing_build_tools: tuple[str, ...] = field(default_factory=tuple)
    build_tools_hint: str = ""
    prebuilt_possible: bool = False  # upstream publishes a release archive for this OS/CPU/backend

    @property
    def usable(self) -> bool:
        return self.state is RuntimeState.READY

    @property
    def where_text(self) -> str:
        return WHERE_WORDS.get(self.where, self.where)

    @property
    def headline(self) -> str:
        return STATE_WORDS[self.state][0]

    @property
    def advice(self) -> str:
        return STATE_WORDS[self.state][1]

    @property
    def is_pinned(self) -> bool:
        return bool(self.commit) and PINNED.commit.startswith(self.commit or "-")

    @property
    def mismatch(self) -> str:
        """How this runtime differs from the pinned version ('' when it is the pinned one or unknown)."""
        if self.state is RuntimeState.MISSING or self.where == "python" or self.is_pinned:
            return ""
        have = (f"build {self.build_number}" if self.build_number is not None else "an unknown build") + (
            f" (commit {self.commit})" if self.commit else "")
        return f"This is {have}; Llama Wrangler is tested with {PINNED.label()}."

    @property
    def toolchain_ready(self) -> bool:
        return self.toolchain == ToolchainState.READY.value

    def install_plan(self) -> str:
        """What the Install button will do here, said before it starts."""
        if self.prebuilt_possible:
            fallback = ("" if not self.missing_build_tools else
                        f" Building from source instead would need {' and '.join(self.missing_build_tools)}.")
            return (f"Downloads the prebuilt {PINNED.tag} release for {self.build_backend.upper()}; "
                    f"if there is none, builds it from source.{fallback}")
        if self.missing_build_tools:
            return (f"No prebuilt release exists for this system, and building needs "
                    f"{' and '.join(self.missing_build_tools)}. {self.build_tools_hint}")
        return f"Builds {PINNED.tag} from source for {self.build_backend.upper()} (several minutes)."


def runtime_report(settings: Settings, paths: AppPaths, *, which: Which = shutil.which,
                   plat: Platform | None = None, gpus: tuple[str, ...] | None = None) -> RuntimeReport:
    """Find the runtime, run it once, and say everything the llama.cpp page shows."""
    # Imported here: the release module brings httpx, which the window need not load at start.
    from llama_wrangler.runtime.release import asset_patterns

    plat = plat or Platform.current()
    detection = choose_backend(settings.runtime.backend, plat, which)
    missing_tools = tuple(missing_build_tools(plat, which))
    machine = RuntimeReport(
        RuntimeState.MISSING, gpus=tuple(list_gpus(which)) if gpus is None else gpus,
        build_backend=detection.backend.value, build_backend_reason=detection.reason,
        missing_build_tools=missing_tools,
        build_tools_hint=install_hint(plat, list(missing_tools)) if missing_tools else "",
        prebuilt_possible=bool(asset_patterns(PINNED.tag, plat, detection.backend)))
    try:
        found = find_runtime(settings, paths, which=which)
    except LlamaRuntimeError as exc:
        state = RuntimeState.BROKEN if settings.runtime.llama_server_path else RuntimeState.MISSING
        return replace(machine, state=state, problem=str(exc))
    runtime = found.runtime
    base = replace(machine, state=RuntimeState.READY, where=found.where, server=runtime.server,
                   quantize=runtime.quantize, root=runtime.root, build_number=runtime.build_number,
                   commit=runtime.commit, backend=runtime.backend)
    if runtime.root is not None:
        manifest = read_manifest(runtime.root) or {}
        base = replace(base, installed_from=str(manifest.get("source") or ""),
                       toolchain=toolchain_status(runtime.root).state.value)
    if runtime.backend == "llama-cpp-python":
        return base
    try:
        verified = verify_runtime(runtime)
    except LlamaRuntimeError as exc:
        return replace(base, state=RuntimeState.BROKEN, problem=str(exc))
    info = verified.info
    checked = replace(base, build_number=verified.runtime.build_number, commit=verified.runtime.commit,
                      version=info.version, compiler=info.compiler, devices=info.devices,
                      backend=verified.runtime.backend)
    if verified.problem:
        return replace(checked, state=RuntimeState.TOO_OLD, problem=verified.problem)
    return checked
