"""The conversion toolchain: llama.cpp's ``convert_hf_to_gguf.py`` and its own virtual environment.

The script, its ``conversion/`` package and ``gguf-py/`` are copied from the same source tree as the
binaries into ``<root>/tools/``; ``<root>/venv/`` holds torch + transformers<5 so the app's environment
keeps a current huggingface_hub (transformers<5 pins huggingface_hub<1).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from llama_wrangler.errors import LlamaRuntimeError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime.locate import venv_python
from llama_wrangler.runtime.process import run_streaming

TOOL_ITEMS = ("convert_hf_to_gguf.py", "conversion", "gguf-py")
# Pinned to what this llama.cpp tree's requirements-convert_hf_to_gguf.txt asks for, except torch:
# 2.13.0 is the CPU build this project's machines carry (any other torch pulls GBs of CUDA wheels).
REQUIREMENTS = (
    "torch==2.13.0",
    "transformers==4.57.6",
    "sentencepiece>=0.1.98,<0.3.0",
    "numpy~=2.2.6",
    "protobuf>=4.21.0,<5.0.0",
    "safetensors",
    "pyyaml",
    "tqdm",
    "requests",
)
STAMP_NAME = ".llama-wrangler-requirements.json"
_COLLECT = re.compile(r"^(Collecting|Downloading|Installing collected packages|Successfully installed)\b")


class ToolchainState(StrEnum):
    READY = "ready"
    NO_SCRIPT = "no conversion script"
    NO_VENV = "no conversion environment"
    STALE = "conversion environment out of date"
    BROKEN = "conversion environment broken"
    UNVERIFIED = "conversion environment not made by Llama Wrangler (unchecked)"


@dataclass(frozen=True)
class ToolchainStatus:
    state: ToolchainState
    script: Path | None
    python: Path | None
    detail: str = ""


def copy_tools(tree: Path, root: Path) -> Path:
    """Copy the conversion script and its packages from ``tree`` to ``root/tools``; return the script."""
    tools = root / "tools"
    tools.mkdir(parents=True, exist_ok=True)
    for item in TOOL_ITEMS:
        src = tree / item
        if not src.exists():
            raise LlamaRuntimeError(f"The llama.cpp tree {tree} has no {item}.")
        dst = tools / item
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
        else:
            shutil.copy2(src, dst)
    return tools / "convert_hf_to_gguf.py"


def toolchain_status(root: Path, *, check_imports: bool = False, timeout: float = 60.0) -> ToolchainStatus:
    """What state the conversion toolchain in ``root`` is in. ``check_imports`` runs the venv's Python
    to import torch/transformers/sentencepiece (seconds; the CLI's status does it, the GUI need not)."""
    script = root / "tools" / "convert_hf_to_gguf.py"
    python = venv_python(root / "venv")
    if not script.is_file():
        return ToolchainStatus(ToolchainState.NO_SCRIPT, None, None)
    if not python.exists():
        return ToolchainStatus(ToolchainState.NO_VENV, script, None)
    stamp = _read_stamp(root)
    if stamp is not None and stamp != list(REQUIREMENTS):
        return ToolchainStatus(ToolchainState.STALE, script, python,
                               "installed requirements differ from what this version needs")
    if stamp is None and not check_imports:
        # A venv made by hand (or by an older tool): only running it can tell whether it works.
        return ToolchainStatus(ToolchainState.UNVERIFIED, script, python)
    if check_imports:
        import subprocess

        probe = "import torch, transformers, sentencepiece; print(torch.__version__, transformers.__version__)"
        try:
            out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=timeout,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ToolchainStatus(ToolchainState.BROKEN, script, python, str(exc))
        if out.returncode != 0:
            return ToolchainStatus(ToolchainState.BROKEN, script, python, out.stderr.strip()[-300:])
        torch_version, _, transformers_version = out.stdout.strip().partition(" ")
        return ToolchainStatus(ToolchainState.READY, script, python,
                               f"torch {torch_version}, transformers {transformers_version}")
    return ToolchainStatus(ToolchainState.READY, script, python)


def _read_stamp(root: Path) -> object:
    try:
        return json.loads((root / "venv" / STAMP_NAME).read_text(encoding="utf-8")).get("requirements")
    except (OSError, ValueError, AttributeError):
        return None


def create_venv(root: Path, *, progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
                log_file: Path | None = None, base_python: str | None = None,
                pip_args: tuple[str, ...] = ()) -> Path:
    """Create ``root/venv`` with :data:`REQUIREMENTS` (minutes, GBs for torch). Returns its Python.

    Built as ``venv.partial`` and renamed when complete, so an interrupted install never looks ready.
    """
    final = root / "venv"
    partial = root / "venv.partial"
    if partial.exists():
        shutil.rmtree(partial)
    python = base_python or getattr(sys, "_base_executable", None) or sys.executable
    log_path = log_file or root / "venv-install.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    ok = False
    try:
        with log_path.open("w", encoding="utf-8") as log:
            progress(Progress("toolchain", 0, None, "Creating the conversion environment"))
            code = run_streaming([python, "-m", "venv", str(partial)], cancel=cancel, log=log)
            if code != 0:
                raise LlamaRuntimeError(f"Could not create a virtual environment (exit {code}).",
                                        hint=f"See {log_path}; on Debian/Ubuntu `sudo apt install python3-venv`.")
            seen: set[str] = set()

            def on_line(line: str) -> None:
                # pip does not say how many packages it will fetch (torch pulls ~30): a count, no total.
                if _COLLECT.match(line):
                    seen.add(line.split()[1] if line.startswith("Collecting") else line)
                    progress(Progress("toolchain", len(seen), None, line.strip()[:200]))

            argv = [str(venv_python(partial)), "-m", "pip", "install", "--disable-pip-version-check",
                    "--no-input", *pip_args, *REQUIREMENTS]
            log.write(f"$ {' '.join(argv)}\n")
            code = run_streaming(argv, cancel=cancel, on_line=on_line, log=log)
            if code != 0:
                raise LlamaRuntimeError(f"Installing the conversion requirements failed (exit {code}).",
                                        hint=f"The full log is in {log_path}.")
        (partial / STAMP_NAME).write_text(json.dumps({"requirements": list(REQUIREMENTS)}), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        ok = True
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                shutil.rmtree(partial)
    progress(Progress("toolchain", 1, 1, "Conversion environment ready"))
    return venv_python(final)
