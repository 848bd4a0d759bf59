"""How the supervisor ends a server, against a stand-in llama-server (a real process on a free port).

The stand-in lets a test hold the server in one phase for as long as it likes, which the real
llama-server cannot do on demand: in particular the moment where llama-server has installed its SIGTERM
handler but not yet started its task loop, where a TERM is swallowed (``start_loop()`` sets ``running``
back to true after the handler's ``terminate()`` cleared it) and the server keeps serving.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings

STAND_IN = '''\
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = {mode!r}
args = sys.argv[1:]
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])


def on_term(signum, frame):
    print("stand-in: SIGTERM, exiting", flush=True)
    sys.exit(0)


# "loading": a TERM is lost, as in llama-server between installing its handler and starting its loop.
signal.signal(signal.SIGTERM, signal.SIG_IGN if MODE == "loading" else on_term)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503 if MODE == "loading" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{{}}")

    def log_message(self, *args):
        pass


print("stand-in: listening", flush=True)
ThreadingHTTPServer((host, port), Handler).serve_forever()
'''


def stand_in_server(folder: Path, mode: str) -> Path:
    script = folder / f"llama-server-{mode}"
    script.write_text(f"#!{sys.executable}\n" + STAND_IN.format(mode=mode), encoding="utf-8")
    script.chmod(0o755)
    return script


def make(tmp_path: Path, mode: str) -> tuple[ServerSupervisor, Path, list[str]]:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    # A grace period far longer than any wait below: a stop that needs the KILL fallback fails the test.
    settings = ServerSettings(port=pick_free_port("127.0.0.1"), stop_grace_s=120.0, health_timeout_s=60.0)
    supervisor = ServerSupervisor(stand_in_server(tmp_path, mode), settings)
    states: list[str] = []
    supervisor.state_changed.connect(lambda old, new: states.append(new))
    return supervisor, model, states


def test_stop_before_ready_ends_a_server_that_swallows_sigterm(qtbot: QtBot, tmp_path: Path) -> None:
    supervisor, model, states = make(tmp_path, "loading")
    try:
        supervisor.start(model, "m")
        qtbot.waitUntil(lambda: supervisor.state is ServerState.LOADING, timeout=20_000)
        pid = supervisor.pid
        supervisor.stop()
        qtbot.waitUntil(lambda: supervisor.state is ServerState.STOPPED, timeout=20_000)
    finally:
        supervisor.shutdown()
    assert pid is not None
    assert states == ["starting", "loading", "stopping", "stopped"]
    assert supervisor.last_error == ""
    assert "[llama-wrangler] stopping before ready: SIGKILL" in supervisor.log_lines()


def test_stop_of_a_ready_server_asks_it_to_exit_with_sigterm(qtbot: QtBot, tmp_path: Path) -> None:
    supervisor, model, states = make(tmp_path, "ready")
    try:
        supervisor.start(model, "m")
        qtbot.waitUntil(lambda: supervisor.state is ServerState.READY, timeout=20_000)
        supervisor.stop()
        qtbot.waitUntil(lambda: supervisor.state is ServerState.STOPPED, timeout=20_000)
    finally:
        supervisor.shutdown()
    assert states[-2:] == ["stopping", "stopped"]
    lines = supervisor.log_lines()
    # A ready server may have clients: it gets the chance to finish cleanly, and took it.
    assert "stand-in: SIGTERM, exiting" in lines
    assert "[llama-wrangler] llama-server exited (exit code 0)" in lines
    assert not any("SIGKILL" in line for line in lines)
