"""Single instance: a later launch hands its URL to the running app (real local sockets, a real second
process for ``llama-wrangler open``)."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from llama_wrangler.paths import AppPaths
from llama_wrangler.services.single_instance import InstanceServer, hand_over


def test_no_running_app_means_no_hand_over(qapp: QCoreApplication, app_paths: AppPaths) -> None:
    assert hand_over(app_paths, "https://huggingface.co/org/repo") is False


def test_a_later_launch_hands_its_url_to_the_running_app(qtbot: QtBot, app_paths: AppPaths) -> None:
    server = InstanceServer(app_paths)
    assert server.listen()
    try:
        with qtbot.waitSignal(server.url_received, timeout=5_000) as signal:
            assert hand_over(app_paths, "https://huggingface.co/org/repo")
        assert signal.args == ["https://huggingface.co/org/repo"]
    finally:
        server.close()


def _open(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-m", "llama_wrangler", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_open_refuses_a_page_that_is_not_hugging_face_or_ollama(app_paths: AppPaths) -> None:
    proc = _open("open", "https://evil.example/x")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "not a Hugging Face or Ollama page" in err


def test_open_hands_a_model_page_and_an_app_link_to_the_running_app(qtbot: QtBot, app_paths: AppPaths) -> None:
    server = InstanceServer(app_paths)
    assert server.listen()
    try:
        for argv, expected in ((["open", "https://huggingface.co/org/repo"], "https://huggingface.co/org/repo"),
                               (["llama-wrangler://ollama/library/tinyllama"], "https://ollama.com/library/tinyllama")):
            with qtbot.waitSignal(server.url_received, timeout=60_000) as signal:
                proc = _open(*argv)
            out, _err = proc.communicate(timeout=60)
            assert proc.returncode == 0 and "already running" in out
            assert signal.args == [expected]
    finally:
        server.close()
