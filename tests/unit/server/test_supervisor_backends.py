"""The supervisor drives the llama-cpp-python fallback server by its own readiness URL (stand-in server)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.runtime.pyserver import pyserver_runtime
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in is a script with a #! line")

# Like llama_cpp.server: no /health and no /props; /v1/models answers once the model is loaded.
PYSERVER_STAND_IN = '''\
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
assert args[:2] == ["-m", "llama_cpp.server"], args
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        print("stand-in: GET " + self.path, flush=True)
        found = self.path == "/v1/models"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer((host, port), Handler).serve_forever()
'''


def supervisor_url(settings: ServerSettings) -> str:
    return f"http://127.0.0.1:{settings.port}"


def test_the_fallback_server_is_ready_when_its_models_list_answers(qtbot: QtBot, tmp_path: Path) -> None:
    stand_in = tmp_path / "python"
    stand_in.write_text(f"#!{sys.executable}\n" + PYSERVER_STAND_IN, encoding="utf-8")
    stand_in.chmod(0o755)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    settings = ServerSettings(port=pick_free_port("127.0.0.1"), health_timeout_s=60.0, stop_grace_s=120.0)
    supervisor = ServerSupervisor(pyserver_runtime(stand_in), settings)
    states: list[str] = []
    supervisor.state_changed.connect(lambda old, new: states.append(new))
    try:
        supervisor.start(model, "m")
        qtbot.waitUntil(lambda: supervisor.state is ServerState.READY, timeout=20_000)
        assert supervisor.endpoint == supervisor_url(settings)
        assert supervisor.props == {} and supervisor.context_size is None
        supervisor.stop()
        qtbot.waitUntil(lambda: supervisor.state is ServerState.STOPPED, timeout=20_000)
    finally:
        supervisor.shutdown()
    assert states == ["starting", "ready", "stopping", "stopped"]
    assert f"[llama-wrangler] starting m ({model}) on {supervisor_url(settings)}" in supervisor.log_lines()
    requests = [line for line in supervisor.log_lines() if line.startswith("stand-in: GET")]
    assert requests and set(requests) == {"stand-in: GET /v1/models"}  # never /health, never /props
