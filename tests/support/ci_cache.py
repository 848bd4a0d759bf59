"""Build the pinned llama.cpp runtime once per machine and reuse it (CI and ``scripts/dev.py test``).

    python -m tests.support.ci_cache        # progress on stderr; the runtime dir is stdout's last line

The runtime lives outside the clone, in ``$LLAMA_WRANGLER_CI_CACHE`` or ``~/.cache/llama-wrangler-ci``, as
``runtime-<tag>-cpu/``. A stamp file names the pinned commit and build recipe; when it matches, the dir is
reused, otherwise it is rebuilt from the PyPI sdist with the same code ``runtime install`` uses. Builds go
to a staging dir renamed into place, and the stamp is written last, so an interrupted build is redone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from llama_wrangler.errors import WranglerError
from llama_wrangler.progress import Progress
from llama_wrangler.runtime import sources
from llama_wrangler.runtime.install import install_from_tree
from llama_wrangler.runtime.locate import runtime_from_dir
from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.toolchain import REQUIREMENTS, ToolchainState, toolchain_status
from llama_wrangler.settings import Backend

CACHE_ENV = "LLAMA_WRANGLER_CI_CACHE"
TORCH_INDEX_ENV = "LLAMA_WRANGLER_TORCH_INDEX"  # e.g. https://download.pytorch.org/whl/cpu on a fresh CI box
STAMP_NAME = "ci-stamp.json"


def cache_root(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "llama-wrangler-ci"


def runtime_path(root: Path) -> Path:
    return root / f"runtime-{PINNED.tag}-cpu"


def wanted_stamp() -> dict[str, Any]:
    return {"tag": PINNED.tag, "commit": PINNED.commit, "sdist_sha256": PINNED.sdist_sha256,
            "recipe": PINNED.recipe, "backend": "cpu", "requirements": list(REQUIREMENTS)}


def is_current(runtime_dir: Path) -> str | None:
    """None when ``runtime_dir`` can be reused as it is, else why not."""
    try:
        stamp = json.loads((runtime_dir / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no stamp (never built, or an earlier build did not finish)"
    if stamp != wanted_stamp():
        return "the pinned version or build recipe changed"
    try:
        runtime = runtime_from_dir(runtime_dir)
    except WranglerError as exc:
        return str(exc)
    if runtime.quantize is None:
        return "llama-quantize is missing"
    if toolchain_status(runtime_dir).state is not ToolchainState.READY:
        return "the conversion toolchain is incomplete"
    return None


class StderrProgress:
    """Progress lines on stderr: every stage change, and each 5% of the build."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, progress: Progress) -> None:
        step = -1
        if progress.total:
            step = int(100 * progress.done / progress.total) // 5
        if (progress.stage, step) == self._last:
            return
        self._last = (progress.stage, step)
        amount = f" {5 * step}%" if step >= 0 else ""
        print(f"[ci-cache] {progress.stage}{amount}: {progress.message}", file=self._stream, flush=True)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One builder at a time per cache (two CI jobs on one runner must not build into each other)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; CI builds there run one at a time anyway
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(root: Path, target: Path) -> None:
    """Staging and work folders of builds that were killed (we hold the lock: nobody else is building)."""
    for leftover in [*root.glob("work-*"), *root.glob(f".{target.name}.partial-*"),
                     *root.glob(f".{target.name}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _terminate_as_interrupt(signum: int, _frame: object) -> None:
    # CI cancels jobs with SIGTERM: unwind like Ctrl-C so the build tree is killed and staging removed.
    raise KeyboardInterrupt


def ensure_runtime(root: Path, *, jobs: int | None = None) -> Path:
    target = runtime_path(root)
    with _locked(root):
        reason = is_current(target)
        if reason is None:
            print(f"[ci-cache] reusing {target}", file=sys.stderr, flush=True)
            return target
        print(f"[ci-cache] building {PINNED.label()} into {target}: {reason}", file=sys.stderr, flush=True)
        _remove_leftovers(root, target)
        started = time.monotonic()
        progress = StderrProgress()
        work = root / f"work-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        pip_args: tuple[str, ...] = ()
        if os.environ.get(TORCH_INDEX_ENV):
            pip_args = ("--extra-index-url", os.environ[TORCH_INDEX_ENV])
        try:
            tree = sources.from_pypi(work, download_dir=root / "sources", progress=progress)
            install_from_tree(tree, target, Backend.CPU, work_dir=work, log_dir=root / "logs", jobs=jobs,
                              pip_args=pip_args, progress=progress, extra_manifest={"ci_cache": True})
        finally:
            shutil.rmtree(work, ignore_errors=True)
        tmp = target / f".{STAMP_NAME}.tmp"
        tmp.write_text(json.dumps(wanted_stamp(), indent=2), encoding="utf-8")
        tmp.replace(target / STAMP_NAME)
        print(f"[ci-cache] built in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        return target


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        path = ensure_runtime(cache_root())
    except WranglerError as exc:
        print(f"[ci-cache] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[ci-cache] interrupted; nothing was stamped", file=sys.stderr)
        return 130
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
