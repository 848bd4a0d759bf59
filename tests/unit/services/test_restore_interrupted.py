"""Jobs the last session left: a malformed queue entry is reported to the user, not silently dropped."""

from __future__ import annotations

import json

from pytestqt.qtbot import QtBot

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.services.hub_actions import HubActions
from llama_wrangler.services.messages import Messenger
from llama_wrangler.settings import Settings
from llama_wrangler.workers.jobs import JobManager


def test_a_malformed_queue_entry_is_reported(qtbot: QtBot, app_paths: AppPaths) -> None:
    broken = {"job_id": "job-1", "kind": "download", "title": "Download org/x", "persist": ["org/x"]}
    app_paths.jobs_file.write_text(json.dumps({"version": 1, "jobs": [broken]}), encoding="utf-8")
    messenger = Messenger()
    shown: list[tuple[str, str, str]] = []
    messenger.shown.connect(lambda *message: shown.append(message))
    hub = HubActions(app_paths, Library(app_paths, hash_in_background=False).load(),
                     JobManager(jobs_file=app_paths.jobs_file), Settings(), messenger)
    assert hub.restore_interrupted() == 0
    [(level, text, _details)] = shown
    assert level == "warning"
    assert "'Download org/x' ('persist' is not a JSON object)" in text and "jobs.bad-entries.jsonl" in text
