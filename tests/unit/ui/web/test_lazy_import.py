"""QtWebEngine is loaded the first time a web page is shown, not when the window starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from PySide6.QtWidgets import QApplication
from llama_wrangler.app import WranglerApp
from llama_wrangler.paths import AppPaths

app = QApplication([])
wrangler = WranglerApp(app, AppPaths.from_environment().ensure(), tray_available=False)
wrangler.start()
app.processEvents()
before = sorted(m for m in sys.modules if "WebEngine" in m or "WebChannel" in m)
wrangler.window.show_page("huggingface")
app.processEvents()
after = sorted(m for m in sys.modules if "WebEngine" in m)
print("before", before)
print("after", bool(after))
wrangler.shutdown()
"""


def test_the_web_engine_loads_with_the_first_web_page(app_home: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "before []" in result.stdout
    assert "after True" in result.stdout
