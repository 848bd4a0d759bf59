"""No llama-server outlives the process that supervises it, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.support.server_fixtures import TinyModels

pytestmark = pytest.mark.runtime

# The child: start a supervisor, print the server's pid once ready, then end the way it is told to.
CHILD = textwrap.dedent("""
    import sys
    import time
    from pathlib import Path
    from PySide6.QtCore import QCoreApplication, QTimer
    from llama_wrangler.server.ports import pick_free_port
    from llama_wrangler.server.supervisor import ServerSupervisor
    from llama_wrangler.settings import ServerSettings

    server, model, how = sys.argv[1], sys.argv[2], sys.argv[3]
    started = {}

    def report_gone(when):
        import psutil
        pid = started.get("pid")
        deadline = time.monotonic() + 5
        alive = True
        while alive and time.monotonic() < deadline:
            try:
                alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                alive = False
            time.sleep(0.01)
        print(f"{when}:", "alive" if alive else "gone", flush=True)

    if how == "sys_exit":
        # Registered before the supervisor's own hook, so it runs after it (atexit is LIFO) and before
        # Qt objects are torn down (which would kill the process through QProcess's destructor).
        import atexit
        atexit.register(report_gone, "after atexit hooks")
    if how != "sigkill":
        # Test each safety layer on its own: without the parent-death signal, only the quit handler or
        # the atexit hook can stop the server here.
        from llama_wrangler.server import lifetime
        lifetime.launch_prefix = lambda: []
    app = QCoreApplication([])
    supervisor = ServerSupervisor(Path(server), ServerSettings(port=pick_free_port("127.0.0.1"),
                                                                context_size=256, threads=1))

    def on_state(old, new):
        if new == "ready":
            started["pid"] = supervisor.pid
            print(supervisor.pid, flush=True)
            if how == "quit":
                QTimer.singleShot(0, app.quit)
        elif new == "crashed":
            print("crashed", flush=True)
            app.exit(3)

    supervisor.state_changed.connect(on_state)
    supervisor.start(Path(model), "alpha")
    if how == "sys_exit":
        # No event loop ever ran, so aboutToQuit never fires: only the atexit hook can clean up.
        while supervisor.state != "ready":
            app.processEvents()
            time.sleep(0.005)
        sys.exit(7)
    app.exec()
    report_gone("after quit")  # aboutToQuit must have stopped it already
""")


def _wait_gone(pid: int, timeout: float) -> bool:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass
    return True


@pytest.mark.parametrize("how", ["sigkill", "quit", "sys_exit"])
def test_server_dies_with_its_supervisor(how: str, llama_server_binary: Path, tiny_models: TinyModels,
                                         tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, str(script), str(llama_server_binary), str(tiny_models.alpha),
                              how], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line.isdigit(), f"child did not report a ready server: {line!r}"
        server_pid = int(line)
        server = psutil.Process(server_pid)
        assert server.name() == "llama-server"
        assert server.ppid() == child.pid
        if how == "sigkill":
            child.send_signal(signal.SIGKILL)
        child.wait(60)
        if how == "sys_exit":
            assert child.stdout.readline().strip() == "after atexit hooks: gone"
        if how == "quit":
            assert child.stdout.readline().strip() == "after quit: gone"
        assert _wait_gone(server_pid, 30), f"llama-server {server_pid} outlived its supervisor ({how})"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
