"""What happens after a page proposes a download (our button, a captured ``/resolve/`` click, an
``lmstudio://`` or ``jan://`` link): a native confirmation, then a job through ``HubActions``.

A repo opens the Add-model dialog's quant picker on it (the recommended quant marked and preselected); one
file or one Ollama tag gets a confirm dialog naming exactly what will be downloaded. Nothing downloads
before the user says so: a page's script can click our buttons, but it cannot click a native dialog.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from llama_wrangler.errors import WranglerError
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.services.page_requests import (
    FileProposal,
    OllamaProposal,
    Proposal,
    RepoProposal,
    proposal_for_reference,
)

OpenPicker = Callable[[str], QDialog]  # reference -> the Add-model dialog, opened and inspecting it


class GetFlow(QObject):
    def __init__(self, parent_widget: QWidget, hub: HubActions, messenger: Messenger,
                 open_picker: OpenPicker) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._hub = hub
        self._messenger = messenger
        self._open_picker = open_picker
        self.dialog: QDialog | None = None  # the last confirmation or picker opened (tests read it)

    def get_reference(self, reference: str) -> None:
        """A captured link: parsed strictly, then the same as a button click."""
        try:
            proposal = proposal_for_reference(reference)
        except WranglerError as exc:
            self._messenger.warning(f"That link does not name a model we can download: {exc}")
            return
        self.propose(proposal)

    def propose(self, proposal: Proposal) -> None:
        if isinstance(proposal, RepoProposal):
            self.dialog = self._open_picker(proposal.reference)
            return
        if isinstance(proposal, FileProposal):
            request = proposal.request
            revision = request.revision
            if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
                revision = revision[:12]  # a commit: its short form, as the hub shows it
            what = (f"<b>{html.escape(request.file or '')}</b> from <b>{html.escape(request.repo_id)}</b> "
                    f"(revision {html.escape(revision)})")
        else:
            request_o = proposal.request
            what = f"the Ollama model <b>{html.escape(request_o.display.removeprefix('ollama:'))}</b>"
        box = QMessageBox(QMessageBox.Icon.Question, "Get with Llama Wrangler",
                          f"Download {what} into your library?", parent=self._parent)
        box.setObjectName("confirmGet")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setInformativeText("Split files are downloaded as one model. The download resumes if it is "
                               "interrupted and is verified before it is added.")
        download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(download)
        box.finished.connect(lambda _r, b=box, p=proposal, d=download: self._on_answer(b, p, d))
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog = box
        box.open()

    def _on_answer(self, box: QMessageBox, proposal: FileProposal | OllamaProposal, download: object) -> None:
        box.deleteLater()
        if self.dialog is box:
            self.dialog = None
        if box.clickedButton() is not download:
            return
        try:
            job = self._hub.pull(proposal.reference)
        except WranglerError as exc:
            self._messenger.report(exc)
            return
        self._messenger.info(f"{job.title}: started (progress on this page and in Downloads).")
