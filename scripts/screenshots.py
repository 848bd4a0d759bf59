#!/usr/bin/env python3
"""Render every view of the app offscreen to PNG (1280×800 and 1024×640, light and dark) into ``out/``.

    .venv/bin/python scripts/screenshots.py [--runtime DIR]

Builds a throwaway app home with a few real tiny GGUF models (tests/support), opens the real window
(``WranglerApp``), and grabs each page and dialog. With a llama.cpp runtime (``--runtime``, or
``LLAMA_WRANGLER_TEST_RUNTIME``) the Server page shows a real llama-server serving the tiny model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gguf import GGUFValueType  # noqa: E402
from tests.support.gguf_files import write_gguf  # noqa: E402
from tests.support.tiny_models import write_tiny_llama_gguf  # noqa: E402

FAKE_MODELS = [
    # (file, arch, name, size label, file type, context)
    ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "qwen2", "Qwen2.5 0.5B Instruct", "0.5B", 15, 32768),
    ("Llama-3.2-1B-Instruct-Q8_0.gguf", "llama", "Llama 3.2 1B Instruct", "1B", 7, 131072),
    ("Phi-3-mini-4k-instruct-q4.gguf", "phi3", "Phi 3 Mini 4k Instruct", "3.8B", 2, 4096),
    ("gemma-2-2b-it-Q6_K.gguf", "gemma2", "Gemma 2 2b It", "2B", 18, 8192),
]


def make_models(folder: Path) -> list[Path]:
    files = [write_tiny_llama_gguf(folder / "tiny-llama-f32.gguf", name="Tiny Llama", seed=3)]
    for file, arch, name, label, ftype, ctx in FAKE_MODELS:
        files.append(write_gguf(folder / file, arch, name=name, vocab_size=64, kv={
            "general.size_label": label,
            "general.file_type": (ftype, GGUFValueType.UINT32),
            f"{arch}.context_length": (ctx, GGUFValueType.UINT32),
        }))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", type=Path, default=os.environ.get("LLAMA_WRANGLER_TEST_RUNTIME"))
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    home = Path(tempfile.mkdtemp(prefix="lw-shots-"))
    os.environ["LLAMA_WRANGLER_HOME"] = str(home)
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    from llama_wrangler.app import WranglerApp
    from llama_wrangler.library.registry import Library
    from llama_wrangler.paths import AppPaths
    from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
    from llama_wrangler.settings import ImportMode, Settings, Theme, TokenSource, save_settings
    from llama_wrangler.ui.import_mode_dialog import ImportModeDialog
    from llama_wrangler.ui.remove_dialog import RemoveDialog
    from llama_wrangler.workers.jobs import Job

    paths = AppPaths.from_environment().ensure()
    settings = Settings()
    if args.runtime:
        settings.runtime.llama_server_path = Path(args.runtime) / "bin" / "llama-server"
    settings.server.port = 18080
    save_settings(paths.settings_file, settings)
    library = Library(paths, hash_in_background=False).load()
    library.import_files(make_models(home / "incoming"), ImportMode.COPY)

    app = QApplication([])
    wrangler = WranglerApp(app, paths, tray_available=False)
    wrangler.start()
    window = wrangler.window

    def pump(ms: int = 150) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait_for(predicate: object, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            pump(50)
        return False

    def shoot(widget: QWidget, name: str) -> None:
        pump()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        print(path)

    def blocking_work(progress: ProgressCallback, cancel: CancelToken) -> object:
        total = 4_690_000_000
        progress(Progress("Downloading", done=1_730_000_000, total=total, bytes_per_second=48_300_000))
        cancel.wait(60)
        cancel.raise_if_cancelled()
        return None

    def failing_work(progress: ProgressCallback, cancel: CancelToken) -> object:
        from llama_wrangler.errors import DownloadError

        raise DownloadError("The connection was reset after 812 MB; the partial file was kept.")

    def done_work(progress: ProgressCallback, cancel: CancelToken) -> object:
        return None

    jobs = wrangler.jobs
    jobs.submit(Job("download", "bartowski/Llama-3.2-3B-Instruct-GGUF · Q4_K_M", done_work))
    jobs.submit(Job("download", "Qwen/Qwen2.5-7B-Instruct-GGUF · Q5_K_M", failing_work))
    running = jobs.submit(Job("download", "unsloth/gemma-3-4b-it-GGUF · Q4_K_M", blocking_work))
    wait_for(lambda: running.last_progress is not None)

    if args.runtime:
        tiny = next(r for r in wrangler.library.models() if r.info.architecture == "llama" and r.size_bytes > 100_000)
        wrangler.actions.serve(tiny.id)
        wrangler.server_view.select_model(tiny.id)
        wait_for(lambda: bool(wrangler.supervisor.endpoint))

    for theme in (Theme.LIGHT, Theme.DARK):
        wrangler.theme.apply(theme)
        for width, height in ((1280, 800), (1024, 640)):
            window.resize(width, height)
            for page in ("library", "downloads", "server"):
                window.show_page(page)
                shoot(window, f"{page}-{width}x{height}-{theme.value}")
    wrangler.theme.apply(Theme.LIGHT)
    window.resize(1280, 800)

    # Drop overlay, as seen while dragging a file over the window.
    window.show_page("library")
    window.drop_overlay.cover("Drop to add to your library")
    shoot(window, "drop-overlay-1280x800-light")
    window.drop_overlay.hide()

    dialog = ImportModeDialog(ImportMode.COPY, window)
    dialog.show()
    shoot(dialog, "dialog-import-mode")
    dialog.close()

    wrangler.flows.open_settings()
    settings_dialog = window.findChild(QWidget, "settingsDialog")
    if settings_dialog is not None:
        editor = settings_dialog.editor("server.extra_args")  # type: ignore[attr-defined]
        editor.input.setText("--port 9000")
        settings_dialog.tabs.currentWidget().ensureWidgetVisible(editor.error, 50, 120)  # type: ignore[attr-defined]
        shoot(settings_dialog, "dialog-settings-invalid")
        settings_dialog.close()

    try:
        raise RuntimeError("an example failure inside a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    pump()
    if wrangler.crash_handler.dialog is not None:
        shoot(wrangler.crash_handler.dialog, "dialog-crash")
        wrangler.crash_handler.dialog.close()

    # Add model, inspecting a repo on a loopback hub (the dialog's lookup is a real job).
    from tests.support.fake_hub import FakeHub
    from tests.support.hf_repos import GGUF_REPO, publish_gguf_repo

    with FakeHub() as hub:
        publish_gguf_repo(hub, home / "hub-src")
        current = wrangler.settings.settings
        downloads = current.downloads.model_copy(update={"hf_endpoint": hub.endpoint,
                                                         "token_source": TokenSource.SETTINGS})
        wrangler.settings.update(current.model_copy(update={"downloads": downloads}))
        add = wrangler.flows.open_add_model()
        add.input.setText(f"https://huggingface.co/{GGUF_REPO}")  # type: ignore[attr-defined]
        add.inspect()  # type: ignore[attr-defined]
        wait_for(lambda: add.choices.isVisible())  # type: ignore[attr-defined]
        shoot(add, "dialog-add-model")
        add.close()

        # Search: plain words list the hub's GGUF repos; picking one shows its quants with fit badges.
        publish_gguf_repo(hub, home / "hub-src-2", "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF")
        hub.set_stats("TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", downloads=152_340, likes=412)
        hub.set_stats(GGUF_REPO, downloads=1_204, likes=17)
        for theme in (Theme.LIGHT, Theme.DARK):
            wrangler.theme.apply(theme)
            add = wrangler.flows.open_add_model()
            add.input.setText("tiny")  # type: ignore[attr-defined]
            add.inspect()  # type: ignore[attr-defined]
            wait_for(lambda dialog=add: dialog.results.tree.topLevelItemCount() > 0)  # type: ignore[attr-defined, misc]
            add.results.choose("TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF")  # type: ignore[attr-defined]
            wait_for(lambda dialog=add: dialog.choices.isVisible())  # type: ignore[attr-defined, misc]
            shoot(add, f"dialog-add-model-search-{theme.value}")
            add.close()

            # Settings, Downloads tab: where the Hub address, token and stores come from.
            wrangler.flows.open_settings()
            dialog = window.findChild(QWidget, "settingsDialog")
            if dialog is not None:
                dialog.tabs.setCurrentIndex(2)  # type: ignore[attr-defined]
                note = dialog.findChild(QWidget, "settingsInForce")
                if note is not None:
                    dialog.tabs.currentWidget().ensureWidgetVisible(note, 50, 50)  # type: ignore[attr-defined]
                shoot(dialog, f"dialog-settings-downloads-{theme.value}")
                dialog.close()

    remove = RemoveDialog(wrangler.library.models()[0], window)
    remove.show()
    shoot(remove, "dialog-remove")
    remove.close()

    running.cancel()
    wrangler.shutdown()
    QCoreApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
