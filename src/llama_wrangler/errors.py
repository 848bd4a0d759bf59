"""One exception hierarchy for the whole app.

Every error carries a message written for the user (``str(error)``); code that shows errors never has to
translate exception types into words. Lower layers raise the most specific subclass; the CLI and the GUI
catch :class:`WranglerError` and show ``str(error)`` as it is.
"""

from __future__ import annotations


class WranglerError(Exception):
    """Base of every error the app reports to a user.

    ``hint`` is an optional second sentence saying what to do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class SettingsError(WranglerError):
    """The settings file or a value in it is unusable."""


class GGUFError(WranglerError):
    """A file is not a readable GGUF model (wrong magic, truncated, hostile header...)."""


class RegistryError(WranglerError):
    """The model registry could not be read or written."""


class ModelNotFoundError(WranglerError):
    """No model in the library matches what the user named."""


class ModelImportError(WranglerError):
    """A file could not be imported into the library."""


class LlamaRuntimeError(WranglerError):
    """The llama.cpp runtime is missing, broken, too old, or could not be built/installed."""


class SourceError(WranglerError):
    """A model source (Hugging Face, Ollama) refused or failed a request."""


class InputParseError(SourceError):
    """What the user typed is not a model reference we understand."""


class DownloadError(SourceError):
    """A transfer failed (network, disk, checksum...)."""


class ChecksumMismatchError(DownloadError):
    """Downloaded bytes do not match the checksum the source published."""


class ConversionError(WranglerError):
    """Converting or quantizing a model failed."""


class ServerError(WranglerError):
    """llama-server could not be started, became unhealthy, or crashed."""


class DiskSpaceError(WranglerError):
    """Not enough free disk space for an operation."""


class UnsafePathError(WranglerError):
    """A path from outside (a repo file name, a manifest) would escape the directory it belongs in."""


class CancelledError(WranglerError):
    """The user cancelled the operation."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)
