"""The one browser profile every tab shares: persistent, under the app's own folders, so a Hugging Face
login (needed for gated repos) survives restarts and nothing lands in another browser's profile."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWebEngineCore import QWebEngineProfile, QWebEngineSettings

from llama_wrangler.paths import AppPaths

PROFILE_NAME = "llama-wrangler"


def make_profile(paths: AppPaths, parent: QObject | None = None) -> QWebEngineProfile:
    profile = QWebEngineProfile(PROFILE_NAME, parent)
    profile.setPersistentStoragePath(str(paths.data_dir / "web"))
    profile.setCachePath(str(paths.cache_dir / "web"))
    profile.setPersistentCookiesPolicy(QWebEngineProfile.PersistentCookiesPolicy.AllowPersistentCookies)
    profile.setDownloadPath(str(paths.downloads_dir))  # never used for a file: every download is re-routed
    settings = profile.settings()
    # No local file access from web content, no plugins, no clipboard reads, no auto-playing media.
    settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, False)
    settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, False)
    settings.setAttribute(QWebEngineSettings.WebAttribute.PluginsEnabled, False)
    settings.setAttribute(QWebEngineSettings.WebAttribute.JavascriptCanAccessClipboard, False)
    settings.setAttribute(QWebEngineSettings.WebAttribute.PlaybackRequiresUserGesture, True)
    return profile
