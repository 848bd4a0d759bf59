#!/usr/bin/env python3
"""Render every view of the app offscreen to PNG (1280×800 and 1024×640, light and dark) into ``out/``.

    .venv/bin/python scripts/screenshots.py [--runtime DIR] [--first-run] [--only load-settings]

Builds a throwaway app home with a few real tiny GGUF models (tests/support), opens the real window
(``WranglerApp``), and grabs each page and dialog. With a llama.cpp runtime (``--runtime``, or
``LLAMA_WRANGLER_TEST_RUNTIME``) the Server page shows a real llama-server serving the tiny model.
``--first-run`` renders a first start instead: no llama.cpp (the banner), an empty library with models
found in a Hugging Face cache (the offer), the llama.cpp page while missing, installing and ready.
``--only load-settings`` renders just one model's Load settings dialog and the details pane showing them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gguf import GGUFValueType  # noqa: E402
from scripts.shots import pump, shooter, wait_for  # noqa: E402
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
    files = [write_tiny_llama_gguf(folder / "tiny-llama-f32.gguf", name="Tiny Llama", seed=3),
             write_tiny_llama_gguf(folder / "tiny-helper-f32.gguf", name="Tiny Helper", seed=4)]
    for file, arch, name, label, ftype, ctx in FAKE_MODELS:
        files.append(write_gguf(folder / file, arch, name=name, vocab_size=64, kv={
            "general.size_label": label,
            "general.file_type": (ftype, GGUFValueType.UINT32),
            f"{arch}.context_length": (ctx, GGUFValueType.UINT32),
        }))
    return files


class Dialogs:
    """Every dialog of the window, opened the way a user opens it and grabbed."""

    def __init__(self, wrangler: Any, shoot: Any, pump: Any, wait_for: Any, home: Path) -> None:
        self.w = wrangler
        self.shoot = shoot
        self.pump = pump
        self.wait_for = wait_for
        self.home = home

    def shoot_all(self, suffix: str) -> None:
        from llama_wrangler.settings import ImportMode
        from llama_wrangler.ui.import_mode_dialog import ImportModeDialog
        from llama_wrangler.ui.remove_dialog import RemoveDialog
        from llama_wrangler.ui.requantize_dialog import RequantizeDialog

        window = self.w.window
        dialog = ImportModeDialog(ImportMode.COPY, window)
        dialog.show()
        self.shoot(dialog, f"dialog-import-mode-{suffix}")
        dialog.close()

        settings = self.w.flows.open_settings()
        editor = settings.editor("server.host")
        editor.input.setText("my host!")
        settings.editor("server.context_size").input.setValue(5)
        self.shoot(settings, f"dialog-settings-invalid-{suffix}")
        editor.input.setText("127.0.0.1")
        settings.editor("server.context_size").input.setValue(4096)
        for index in range(settings.tabs.count()):
            settings.tabs.setCurrentIndex(index)
            name = settings.tabs.tabText(index).lower().replace(".", "").replace(" ", "-")
            self.shoot(settings, f"dialog-settings-{name}-{suffix}")
        settings.reject()

        records = self.w.library.models()
        remove = RemoveDialog(records[0], window)
        remove.show()
        self.shoot(remove, f"dialog-remove-{suffix}")
        remove.close()
        source = next(r for r in records if (r.info.quant or "") in ("F32", "F16", "BF16"))
        requantize = RequantizeDialog(source, "Q4_K_M", window)
        requantize.show()
        self.shoot(requantize, f"dialog-requantize-{suffix}")
        requantize.close()

        shortcuts = window.show_shortcuts()
        self.shoot(shortcuts, f"dialog-shortcuts-{suffix}")
        shortcuts.reject()
        messages = window.messages.open_list()
        self.shoot(messages, f"dialog-messages-{suffix}")
        messages.reject()

        self.w.messenger.error("Download failed: the connection was reset after 812 MB.",
                               details="GET https://huggingface.co/.../model-Q4_K_M.gguf\nconnection reset by peer\n"
                                       "The partial file was kept: cache/downloads/3f2a.part")
        box = window.error_box
        if box is not None:
            self.shoot(box, f"dialog-error-{suffix}")
            box.close()

        try:
            raise RuntimeError("an example failure inside a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        self.pump()
        crash = self.w.crash_handler.dialog
        if crash is not None:
            self.shoot(crash, f"dialog-crash-{suffix}")
            crash.close()
        self.shoot_add_model(suffix)
        self.shoot_load_settings(suffix)

    def shoot_load_settings(self, suffix: str) -> None:
        """The Load settings dialog (filled, then with an error) and the details pane summing them up."""
        from llama_wrangler.library.load_settings import LoadSettings

        record = next(r for r in self.w.library.models() if r.path.name.startswith("Llama-3.2"))
        self.w.library.set_load_settings(record.id, LoadSettings(context_size=8192, parallel=2, chat_template="llama3",
                                                                 idle_ttl_s=1800, pinned=True))
        self.wait_for(lambda: self.w.actions.find(record.id) is not None
                      and not self.w.actions.find(record.id).load.is_default)
        self.pump()
        view = self.w.library_view
        self.w.window.show_page("library")
        view.select(record.id)
        self.pump()
        self.shoot(self.w.window, f"library-load-summary-{suffix}")
        dialog = self.w.flows.open_load_settings(record.id)
        self.pump()
        self.shoot(dialog, f"dialog-load-settings-{suffix}")
        dialog.numbers["parallel"].setText("0")
        dialog.save_button.click()
        self.pump()
        self.shoot(dialog, f"dialog-load-settings-invalid-{suffix}")
        dialog.reject()
        self.w.library.set_load_settings(record.id, LoadSettings())

    def shoot_add_model(self, suffix: str) -> None:
        from tests.support.fake_hub import FakeHub
        from tests.support.hf_repos import GGUF_REPO, publish_gguf_repo

        from llama_wrangler.settings import TokenSource

        with FakeHub() as hub:
            publish_gguf_repo(hub, self.home / f"hub-src-{suffix}")
            current = self.w.settings.settings
            downloads = current.downloads.model_copy(update={"hf_endpoint": hub.endpoint,
                                                             "token_source": TokenSource.SETTINGS})
            self.w.settings.update(current.model_copy(update={"downloads": downloads}))
            add = self.w.flows.open_add_model()
            add.input.setText(f"https://huggingface.co/{GGUF_REPO}")
            add.inspect()
            self.wait_for(lambda: add.choices.isVisible())
            self.shoot(add, f"dialog-add-model-{suffix}")
            add.close()

    def shoot_crash(self, suffix: str) -> None:
        """The Server page right after llama-server was killed, with auto-restart on."""
        import os
        import signal

        current = self.w.settings.settings
        self.w.settings.update(current.model_copy(update={
            "server": current.server.model_copy(update={"auto_restart": True})}))
        window = self.w.window
        window.resize(1280, 800)
        window.show_page("server")
        pid = self.w.supervisor.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        self.wait_for(lambda: self.w.server_view.restart_note.isVisible(), 10)
        box = window.error_box
        if box is not None:
            box.hide()
        self.shoot(window, f"server-crashed-{suffix}")
        self.wait_for(lambda: bool(self.w.supervisor.endpoint), 60)
        self.shoot(window, f"server-recovered-{suffix}")
        # Stopped, with the stable endpoint still open: the page says what a request gets now.
        served = self.w.supervisor.model_id
        self.w.actions.stop()
        self.wait_for(lambda: self.w.supervisor.state == "stopped", 30)
        self.shoot(window, f"server-stopped-{suffix}")
        self.w.actions.serve(served)
        self.wait_for(lambda: bool(self.w.supervisor.endpoint), 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", type=Path, default=os.environ.get("LLAMA_WRANGLER_TEST_RUNTIME"))
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--first-run", action="store_true", help="render the first-run state")
    parser.add_argument("--only", choices=["load-settings"], help="render only these views")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.first_run:
        from scripts.screenshots_first_run import first_run_shots

        return first_run_shots(out, args.runtime)

    home = Path(tempfile.mkdtemp(prefix="lw-shots-"))
    os.environ["LLAMA_WRANGLER_HOME"] = str(home)
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication, QWidget

    from llama_wrangler.app import WranglerApp
    from llama_wrangler.library.registry import Library
    from llama_wrangler.paths import AppPaths
    from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
    from llama_wrangler.settings import ImportMode, Settings, Theme, TokenSource, save_settings
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

    shoot = shooter(out)

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
        tiny = next(r for r in wrangler.library.models() if r.path.name == "tiny-llama-f32.gguf")
        wrangler.actions.serve(tiny.id)
        wrangler.server_view.select_model(tiny.id)
        wait_for(lambda: bool(wrangler.supervisor.endpoint))
        # A client asks for a second model: it loads beside the first, and the Server page lists both.
        helper = next(r for r in wrangler.library.models() if r.path.name == "tiny-helper-f32.gguf")
        import threading

        import httpx
        threading.Thread(target=lambda: httpx.post(f"{wrangler.stable.url}/v1/completions", timeout=60, json={
            "model": helper.id, "prompt": "hi", "max_tokens": 2}), daemon=True).start()
        window.show_page("server")
        wait_for(lambda: len(wrangler.residents.models()) == 2
                 and all(wrangler.residents.table.item(row, 1).text() == "ready" for row in range(2)), 60)

    wrangler.messenger.info("Imported 5 models: Tiny Llama, Qwen2.5 0.5B Instruct, Llama 3.2 1B Instruct…")
    wrangler.messenger.warning("Skipped 1 item(s) that are not .gguf models: notes.txt (not a .gguf model file)")
    dialogs = Dialogs(wrangler, shoot, pump, wait_for, home)
    def use_theme(theme: Theme) -> None:
        # Through the settings, as the Settings dialog does: a later settings change keeps the theme.
        current = wrangler.settings.settings
        wrangler.settings.update(current.model_copy(update={"ui": current.ui.model_copy(update={"theme": theme})}))

    if args.only == "load-settings":
        for theme in (Theme.LIGHT, Theme.DARK):
            use_theme(theme)
            for width, height in ((1280, 800), (1024, 640)):
                window.resize(width, height)
                dialogs.shoot_load_settings(f"{width}x{height}-{theme.value}")
        running.cancel()
        wrangler.shutdown()
        return 0

    for theme in (Theme.LIGHT, Theme.DARK):
        use_theme(theme)
        for width, height in ((1280, 800), (1024, 640)):
            window.resize(width, height)
            suffix = f"{width}x{height}-{theme.value}"
            for page in ("library", "downloads", "server", "runtime"):
                window.show_page(page)
                shoot(window, f"{page}-{suffix}")
            window.show_page("library")
            wrangler.library_view.filter.setText("no such model")
            shoot(window, f"library-no-matches-{suffix}")
            wrangler.library_view.filter.clear()
            window.drop_overlay.cover("Only .gguf files or folders can be added")
            shoot(window, f"drop-refused-{suffix}")
            window.drop_overlay.cover("Drop to add to your library")
            shoot(window, f"drop-overlay-{suffix}")
            window.drop_overlay.hide()
            dialogs.shoot_all(suffix)
        if args.runtime:
            dialogs.shoot_crash(f"1280x800-{theme.value}")
    use_theme(Theme.LIGHT)
    window.resize(1280, 800)

    for theme in (Theme.LIGHT, Theme.DARK):  # the stable endpoint's settings, at the end of the Server tab
        use_theme(theme)
        wrangler.flows.open_settings()
        settings_dialog = window.findChild(QWidget, "settingsDialog")
        if settings_dialog is not None:
            for size in ((1280, 800), (1024, 640)):
                settings_dialog.resize(*size)
                cors = settings_dialog.editor("server.cors_origins")  # type: ignore[attr-defined]
                settings_dialog.tabs.currentWidget().ensureWidgetVisible(cors.widget, 50, 50)  # type: ignore[attr-defined]
                shoot(settings_dialog, f"dialog-settings-endpoint-{size[0]}x{size[1]}-{theme.value}")
            settings_dialog.close()
            settings_dialog.deleteLater()
            pump()
    use_theme(Theme.LIGHT)

    # The browser pages (Hugging Face, Ollama, Chat) against a loopback hub.
    from scripts.web_screenshots import shoot_web_pages
    from tests.support.fake_hub import FakeHub
    from tests.support.hf_repos import GGUF_REPO, publish_gguf_repo

    with FakeHub() as hub:
        published = publish_gguf_repo(hub, home / "web-hub-src")
        current = wrangler.settings.settings
        downloads = current.downloads.model_copy(update={"hf_endpoint": hub.endpoint,
                                                         "token_source": TokenSource.SETTINGS})
        wrangler.settings.update(current.model_copy(update={"downloads": downloads}))
        shoot_web_pages(wrangler, hub, published.repo.sha, shoot, wait_for)  # type: ignore[arg-type]

        # Search: plain words list the hub's GGUF repos; picking one shows its quants with fit badges.
        publish_gguf_repo(hub, home / "hub-src-2", "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF")
        hub.set_stats("TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", downloads=152_340, likes=412)
        hub.set_stats(GGUF_REPO, downloads=1_204, likes=17)
        for theme in (Theme.LIGHT, Theme.DARK):
            use_theme(theme)
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
                shoot(dialog, f"dialog-settings-downloads-in-force-{theme.value}")
                dialog.close()


    running.cancel()
    wrangler.shutdown()
    QCoreApplication.processEvents()
    QCoreApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
