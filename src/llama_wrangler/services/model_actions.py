"""What the user can do to models — serve, stop, remove, import — in one place that the library page, the
details pane, the tray, drag-and-drop and ``llama-wrangler serve`` all call.

Long work (imports copy gigabytes) runs as a job; the supervisor is asynchronous by design; the rest is
quick bookkeeping. Errors go to the :class:`Messenger`, never up into a widget's slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from llama_wrangler.errors import WranglerError
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import Library, ModelRecord, ScanReport
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.import_work import import_work
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.serve_target import ServeTarget, resolve_target
from llama_wrangler.settings import ImportMode
from llama_wrangler.work import JobKind, Work
from llama_wrangler.workers.jobs import Job, JobManager

log = logging.getLogger(__name__)

ServeGate = Callable[[ServeTarget, Callable[[], None]], None]


def _no_gate(_target: ServeTarget, proceed: Callable[[], None]) -> None:
    proceed()

COALESCE_MS = 150


class ModelActions(QObject):
    """Signals:
        library_changed(): the library's records changed (any thread made the change; delivered on ours).
        imported(list): an import job finished with these :class:`ModelRecord` objects.
    """

    library_changed = Signal()
    imported = Signal(list)
    _touched = Signal()  # from any thread; coalesced into one library_changed on ours

    def __init__(self, library: Library, supervisor: ServerFleet, jobs: JobManager | None,
                 messenger: Messenger, *, before_serve: Callable[[], None] = lambda: None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._before_serve = before_serve
        self._gate: ServeGate = _no_gate
        self.library = library
        self.supervisor = supervisor
        self.jobs = jobs
        self._messenger = messenger
        # Library callbacks run on the thread that changed it; a queued signal carries them to the GUI
        # thread, and a short timer folds a burst (an import of 200 files) into one refresh.
        self._coalesce = QTimer(self)
        self._coalesce.setSingleShot(True)
        self._coalesce.setInterval(COALESCE_MS)
        self._coalesce.timeout.connect(self.library_changed)
        self._touched.connect(self._on_touched, Qt.ConnectionType.QueuedConnection)
        self._models: list[ModelRecord] | None = None
        self._unsubscribe = library.subscribe(self._touched.emit)

    def close(self) -> None:
        """Stop listening (app shutdown): a late change must not reach widgets that are gone."""
        self._unsubscribe()
        self._coalesce.stop()
        self.blockSignals(True)

    def _on_touched(self) -> None:
        self._models = None
        # Throttle, not debounce: a steady stream of changes (background hashing saves one model at a
        # time) still refreshes the views a few times a second instead of never.
        if not self._coalesce.isActive():
            self._coalesce.start()

    def models(self) -> list[ModelRecord]:
        """The library's records, read once per change (the table, tray and server page all ask)."""
        if self._models is None:
            self._models = self.library.models()
        return list(self._models)

    def find(self, model_id: str) -> ModelRecord | None:
        try:
            return self.library.get(model_id)
        except WranglerError:
            return None

    def resolve(self, ref: str, *, allow_path: bool = False) -> ServeTarget:
        """What to serve for ``ref`` (see :func:`resolve_target`), with its load settings as stored now
        (``configure`` may have changed them from a terminal); raises a :class:`WranglerError`."""
        self.library.refresh()
        return resolve_target(self.library, ref, allow_path=allow_path)

    # -- server ----------------------------------------------------------------------------------------
    def serve(self, ref: str) -> bool:
        """Serve a model; if another one runs, this hot-swaps to it. False (and the reason shown) when
        ``ref`` names nothing servable."""
        try:
            target = self.resolve(ref)
        except WranglerError as exc:
            self._messenger.report(exc)
            return False
        self.serve_target(target)
        return True

    def serve_target(self, target: ServeTarget) -> None:
        log.info("serve %s", target.model_id)
        self._gate(target, lambda: self._start(target))

    def set_serve_gate(self, gate: ServeGate | None) -> None:
        """Something that must happen before a start, maybe in the background (the worker pool's check):
        ``gate(target, proceed)`` calls ``proceed()`` when the start may go ahead, or never."""
        self._gate = gate or _no_gate

    def _start(self, target: ServeTarget) -> None:
        try:
            # Raises when serving cannot work (no llama.cpp yet): said plainly, never a crashed server.
            self._before_serve()
        except WranglerError as exc:
            self._messenger.report(exc)
            return
        self.supervisor.start(target.path, target.model_id, target.mmproj, load=target.load)

    def stop(self) -> None:
        self.supervisor.stop()

    def set_load_settings(self, model_id: str, load: LoadSettings) -> bool:
        """Store how a model is loaded. A model loaded now (served, or beside the served one) is reloaded
        with them (after its running requests finish) unless only its idle/pin settings changed. False
        (reason shown) if it failed."""
        try:
            record = self.library.set_load_settings(model_id, load)
        except WranglerError as exc:
            self._messenger.report(exc)
            return False
        if self.serving_id() == record.id:
            self.serve(record.id)  # the supervisor restarts it only if the command line differs
        elif self.supervisor.slot_of(record.id):  # loaded beside the served one: reloaded in its own place
            try:
                self.supervisor.reload(self.resolve(record.id).server_target())
            except WranglerError as exc:  # its file went missing meanwhile
                self._messenger.report(exc)
        return True

    def set_pinned(self, model_id: str, pinned: bool) -> bool:
        """Keep a model loaded (never unloaded for room or by idle time), or let it go again."""
        record = self.find(model_id)
        if record is None:
            return False
        return self.set_load_settings(model_id, replace(record.load, pinned=pinned))

    def serving_id(self) -> str:
        """The model the server runs or is loading ('' when none)."""
        if self.supervisor.state in (ServerState.STOPPED, ServerState.CRASHED):
            return ""
        return self.supervisor.model_id

    # -- files -----------------------------------------------------------------------------------------
    def remove(self, model_id: str, *, delete_file: bool) -> bool:
        record = self.find(model_id)
        if record is None:
            return False
        others = [loaded for loaded in self.supervisor.loaded_models() if loaded != model_id]
        if self.serving_id() == model_id and not others:
            self.supervisor.stop()
        else:  # its server goes first (its file may be deleted next); models loaded beside it stay
            self.supervisor.unload(model_id)
        try:
            self.library.remove(model_id, delete_file=delete_file)
        except WranglerError as exc:
            self._messenger.report(exc)
            return False
        what = "removed and its file deleted" if delete_file else "removed from the library"
        self._messenger.info(f"{record.name} was {what}.")
        return True

    def import_paths(self, paths: Sequence[Path], mode: ImportMode) -> Job:
        """Import files/folders off the GUI thread (copying can take minutes)."""
        if self.jobs is None:
            raise RuntimeError("ModelActions was built without a job manager (the command line imports "
                               "in the foreground with services.import_work)")
        job = Job.from_work(import_work(self.library, paths, mode))
        self._messenger.info(f"Importing {len(paths)} item(s)… (see Downloads for progress)")
        job.finished.connect(self._on_import_finished)
        job.failed.connect(lambda message: self._messenger.error(f"Import failed: {message}"))
        return self.jobs.submit(job)

    def rescan(self) -> Job | None:
        """Look for added, changed and vanished files off the GUI thread (a stat per file, but a big or
        network folder can take a while); the result is reported as a message."""
        if self.jobs is None:
            return None
        library = self.library

        def run(_progress: object, _cancel: object) -> ScanReport:
            return library.rescan()

        job = Job.from_work(Work(JobKind.INSPECT, "Rescan the library", run))
        job.finished.connect(self._on_rescanned)
        job.failed.connect(lambda message: self._messenger.error(f"Rescan failed: {message}"))
        return self.jobs.submit(job)

    def _on_rescanned(self, report: object) -> None:
        if isinstance(report, ScanReport):
            self._messenger.info(f"Library rescanned: {report.summary()}."
                                 + (" " + " ".join(report.errors[:3]) if report.errors else ""))

    def _on_import_finished(self, result: object) -> None:
        records = [r for r in result if isinstance(r, ModelRecord)] if isinstance(result, list) else []
        if records:
            names = ", ".join(r.name for r in records[:3]) + ("…" if len(records) > 3 else "")
            self._messenger.info(f"Imported {len(records)} model{'s' if len(records) != 1 else ''}: {names}")
        else:
            self._messenger.warning("Nothing was imported: no new .gguf models were found.")
        self.imported.emit(records)
