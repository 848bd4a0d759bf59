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
from PySide6.QtWidgets import QCheckBox, QDialog, QMessageBox, QWidget
from shiboken6 import isValid

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
from llama_wrangler.sources.hf_input import HUB_LINK, HfRequest
from llama_wrangler.sources.hf_repo import RepoListing
from llama_wrangler.units import human_bytes

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
        if isinstance(proposal, FileProposal) and "mmproj" not in (proposal.request.file or "").lower():
            self._offer_projector(box, proposal)

    def _offer_projector(self, box: QMessageBox, proposal: FileProposal) -> None:
        """Look the repo up (a background job) and, when it has a vision projector, offer it with the file."""
        request = proposal.request
        job = self._hub.inspect(HfRequest(repo_id=request.repo_id, revision=request.revision))
        job.finished.connect(lambda listing, b=box: self._on_listing(b, listing))

    def _on_listing(self, box: QMessageBox, listing: object) -> None:
        # The box may be gone without an answer (its window closed) while the look-up ran.
        if self.dialog is not box or not isValid(box):
            return
        if not isinstance(listing, RepoListing) or not listing.projectors:
            return
        projector = listing.projectors[-1]  # the largest: F16 before a quantized one, as llama.cpp advises
        path = projector.files[0].path
        check = QCheckBox(f"Also get the vision projector {path} ({human_bytes(projector.size)})", box)
        check.setChecked(True)
        check.setProperty("projector", f"{HUB_LINK}/{listing.repo_id}/blob/{listing.commit}/{path}")
        box.setCheckBox(check)

    def _on_answer(self, box: QMessageBox, proposal: FileProposal | OllamaProposal, download: object) -> None:
        box.deleteLater()
        if self.dialog is box:
            self.dialog = None
        if box.clickedButton() is not download:
            return
        references = [proposal.reference]
        check = box.checkBox()
        if check is not None and check.isChecked() and isinstance(check.property("projector"), str):
            references.append(check.property("projector"))
        for reference in references:
            try:
                job = self._hub.pull(reference)
            except WranglerError as exc:
                self._messenger.report(exc)
                return
            self._messenger.info(f"{job.title}: started (progress on this page and in Downloads).")
