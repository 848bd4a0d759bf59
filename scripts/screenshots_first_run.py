"""First-run screenshots (``scripts/screenshots.py --first-run``): a fresh app home, no llama.cpp on PATH,
an empty library and a Hugging Face cache holding two GGUF models; then an install job running; then a
real runtime chosen, so the llama.cpp page shows what it found."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gguf import GGUFValueType
from scripts.shots import shooter, wait_for
from tests.support.gguf_files import write_gguf

SIZES = ((1280, 800), (1024, 640))


def _hf_cache(root: Path) -> None:
    for repo, file, name in (("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
                              "Qwen2.5 0.5B Instruct"),
                             ("unsloth/gemma-3-1b-it-GGUF", "gemma-3-1b-it-Q8_0.gguf", "Gemma 3 1b It")):
        snapshot = root / f"models--{repo.replace('/', '--')}" / "snapshots" / ("a" * 40)
        write_gguf(snapshot / file, "llama", name=name, vocab_size=64,
                   kv={"general.file_type": (15, GGUFValueType.UINT32)})


def first_run_shots(out: Path, runtime: Path | None) -> int:
    home = Path(tempfile.mkdtemp(prefix="lw-first-run-"))
    os.environ["LLAMA_WRANGLER_HOME"] = str(home / "data")
    os.environ["HOME"] = str(home / "user")
    for variable in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "OLLAMA_MODELS"):
        os.environ.pop(variable, None)
    os.environ["PATH"] = "/usr/bin:/bin"  # no llama-server of the machine's
    _hf_cache(home / "user" / ".cache" / "huggingface" / "hub")

    from PySide6.QtWidgets import QApplication

    from llama_wrangler.app import WranglerApp
    from llama_wrangler.paths import AppPaths
    from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
    from llama_wrangler.settings import Theme
    from llama_wrangler.work import JobKind, Work

    paths = AppPaths.from_environment().ensure()
    app = QApplication.instance() or QApplication([])
    wrangler = WranglerApp(app, paths, tray_available=False)  # type: ignore[arg-type]
    wrangler.start()
    window = wrangler.window

    shoot = shooter(out)

    def all_sizes(pages: tuple[str, ...], prefix: str, themes: tuple[Theme, ...] = (Theme.LIGHT, Theme.DARK)) -> None:
        for theme in themes:
            wrangler.theme.apply(theme)
            for width, height in SIZES:
                window.resize(width, height)
                for page in pages:
                    window.show_page(page)
                    shoot(window, f"{prefix}-{page}-{width}x{height}-{theme.value}")
        wrangler.theme.apply(Theme.LIGHT)
        window.resize(*SIZES[0])

    wait_for(lambda: wrangler.runtime.report is not None and wrangler.stores.findings is not None)
    all_sizes(("library", "server", "runtime"), "first-run")

    def building(progress: ProgressCallback, cancel: CancelToken) -> object:
        progress(Progress("build", 42, 100, "[ 42%] Building CXX object src/CMakeFiles/llama.dir/llama-model.cpp.o"))
        cancel.wait(120)
        cancel.raise_if_cancelled()
        return None

    job = wrangler.runtime._submit(Work(JobKind.BUILD, "Install llama.cpp b11312", building,
                                        log_file=paths.log_dir / "build-b11312-cpu.log"), "")
    wait_for(lambda: job is not None and job.last_progress is not None)
    all_sizes(("runtime", "library", "downloads"), "installing", themes=(Theme.LIGHT,))
    if job is not None:
        job.cancel()
        wait_for(lambda: job.is_final)

    if runtime is not None:
        wrangler.runtime.use_existing(Path(runtime) / "bin" / "llama-server")
        wait_for(lambda: wrangler.runtime.report is not None and wrangler.runtime.report.usable)
        all_sizes(("runtime",), "ready")
    wrangler.shutdown()
    return 0
