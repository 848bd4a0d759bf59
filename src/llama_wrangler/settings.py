"""User settings: declared once with defaults and descriptions, stored as versioned JSON.

Loading never crashes the app: a corrupt or invalid file is moved aside as ``settings.json.bad-<timestamp>``,
defaults are used, and :class:`LoadedSettings` carries a message naming the offending field for the UI.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from llama_wrangler.atomic import move_aside, write_json_atomic
from llama_wrangler.errors import SettingsError

SCHEMA_VERSION = 1

QUANT_CHOICES = ("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
MIN_CONTEXT = 256  # below this a chat template and a question do not fit; 0 means the model's own
# Validation context key: also check that paths exist (the settings dialog asks; loading a file does not,
# so a folder on an unplugged disk never throws the whole settings file away).
CHECK_PATHS = "check_paths"
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

# Flags the supervisor sets itself; letting extra args repeat them would make the state lie.
RESERVED_SERVER_FLAGS = frozenset({
    "-m", "--model", "--host", "--port", "--alias", "-a", "--api-key", "-c", "--ctx-size",
    "-ngl", "--gpu-layers", "--n-gpu-layers", "-t", "--threads", "-np", "--parallel", "-mm", "--mmproj",
})


class ImportMode(StrEnum):
    COPY = "copy"
    MOVE = "move"
    HARDLINK = "hardlink"
    LINK = "link"  # use in place: nothing is copied


class PortConflict(StrEnum):
    FAIL = "fail"  # tell the user the port is busy
    PICK_FREE = "pick_free"  # take any free loopback port


class WhileLoading(StrEnum):
    WAIT = "wait"  # hold the request until its model is ready (OpenAI clients wait up to 600 s)
    RETRY_LATER = "retry_later"  # answer 503 with Retry-After at once; the model still loads


class TokenSource(StrEnum):
    AUTO = "auto"  # settings token, then HF_TOKEN, then huggingface_hub's login
    SETTINGS = "settings"
    ENVIRONMENT = "environment"
    HF_LOGIN = "hf_login"


class Backend(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    METAL = "metal"
    VULKAN = "vulkan"
    ROCM = "rocm"


class Theme(StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address llama-server binds. Keep 127.0.0.1 unless you "
                      "mean to expose the server to your network.")
    port: int = Field(8080, ge=1, le=65535, description="Port of the OpenAI-compatible endpoint.")
    port_conflict: PortConflict = Field(PortConflict.PICK_FREE,
                                        description="What to do when the port is already in use.")
    context_size: int = Field(4096, ge=0, le=10_000_000,
                              description=f"Context length in tokens: 0 for the model's own, else at least "
                              f"{MIN_CONTEXT}.")
    gpu_layers: int = Field(-1, ge=-1, le=10_000, description="Layers to offload to the GPU (-1 = all).")
    threads: int = Field(0, ge=0, le=1024, description="CPU threads (0 = llama-server decides).")
    parallel: int = Field(1, ge=1, le=256, description="Parallel request slots.")
    api_key: str = Field("", description="Optional API key clients must send.")
    extra_args: str = Field("", description="Extra llama-server arguments, as you would type them.")
    health_timeout_s: float = Field(180.0, gt=0, le=3600,
                                    description="How long a model may take to load before start fails.")
    stop_grace_s: float = Field(5.0, ge=0, le=120,
                                description="Seconds between SIGTERM and SIGKILL when stopping.")
    auto_restart: bool = Field(True, description="Restart a crashed server (at most 3 times a minute); requests "
                               "wait for it as they wait during a switch.")
    stable_endpoint: bool = Field(True, description="Serve host:port through Llama Wrangler's own proxy, "
                                  "so switching models never drops a request: requests wait for the new "
                                  "model, and one naming a library model switches to it. Off: llama-server "
                                  "binds host:port itself.")
    load_on_request: bool = Field(True, description="A request naming a library model loads it. Off: such a "
                                  "request is refused unless that model is already served, and Stop closes "
                                  "the port.")
    while_loading: WhileLoading = Field(WhileLoading.WAIT, description="While a model loads, requests wait "
                                        "for it, or get 503 with Retry-After at once.")
    drain_timeout_s: float = Field(600.0, ge=0, le=86_400, description="Before switching models, how long "
                                   "running generations may take to finish (separate from the stop grace).")
    swap_fairness_s: float = Field(30.0, ge=0, le=3600, description="How long one model keeps taking new "
                                   "requests while requests for another model wait, before switching.")
    max_models: int = Field(4, ge=1, le=64, description="Models kept loaded at once behind the endpoint (each "
                            "in its own llama-server). 1: one at a time, every switch unloads the last.")
    memory_limit_gb: float = Field(0.0, ge=0, le=100_000, description="The most memory all loaded models "
                                   "together may take, in GB. 0: what the computer has free.")
    idle_unload_min: float = Field(60.0, ge=0, le=525_600, description="Models loaded by a request (not by "
                                   "you) are unloaded after this many minutes unused. 0: never.")
    cors_origins: str = Field("", description="Web pages allowed to call the endpoint: origins separated by "
                              "commas, or * for any. Empty: pages served from this computer only.")

    @field_validator("host")
    @classmethod
    def _host_valid(cls, value: str) -> str:
        return check_host(value)

    @field_validator("context_size")
    @classmethod
    def _context_usable(cls, value: int) -> int:
        if 0 < value < MIN_CONTEXT:
            raise ValueError(f"must be 0 (the model's own) or at least {MIN_CONTEXT} tokens")
        return value

    @field_validator("extra_args")
    @classmethod
    def _extra_args_parse(cls, value: str) -> str:
        extra_arg_list(value)
        return value

    def extra_arg_list(self) -> list[str]:
        return extra_arg_list(self.extra_args)


def check_host(value: str) -> str:
    """An IP address or a host name (letters, digits and hyphens in dot-separated labels)."""
    host = value.strip()
    if not host:
        raise ValueError("must not be empty")
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        return host
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"“{host}” is not an IP address or host name (e.g. 127.0.0.1, 0.0.0.0 or "
                         "my-computer.local)")
    return host


def _existing(value: Path | None, info: ValidationInfo, *, folder: bool) -> Path | None:
    if value is None or not (info.context or {}).get(CHECK_PATHS):
        return value
    path = value.expanduser()
    if folder and not path.is_dir():
        raise ValueError(f"{path} is not an existing folder")
    if not folder and not path.is_file():
        raise ValueError(f"{path} is not an existing file")
    return value


def extra_arg_list(text: str) -> list[str]:
    """Split extra server args like a POSIX shell would, without ever running a shell."""
    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot be parsed ({exc})") from None
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in RESERVED_SERVER_FLAGS:
            raise ValueError(f"{flag} is set by Llama Wrangler itself; change it in the settings instead")
    return args


class LibrarySettings(_Section):
    models_dir: Path | None = Field(None, description="Where downloaded and imported models go "
                                    "(empty = the app's data folder).")
    import_mode: ImportMode = Field(ImportMode.COPY, description="How files are imported.")
    import_mode_confirmed: bool = Field(False, description="Add dropped files the way chosen above, without "
                                        "asking each time.")

    @field_validator("models_dir")
    @classmethod
    def _models_dir_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _existing(value, info, folder=True)


class DownloadSettings(_Section):
    default_quant: str = Field("Q4_K_M", description="Quant picked for conversions and as the default choice.",
                               json_schema_extra={"choices": list(QUANT_CHOICES)})
    hf_endpoint: str = Field("", description="Hugging Face Hub address, for a mirror. Empty: HF_ENDPOINT "
                             "from the environment, else https://huggingface.co.")
    hf_token: str = Field("", description="Hugging Face access token (for gated or private repos).")
    token_source: TokenSource = Field(TokenSource.AUTO, description="Where the Hugging Face token comes from.")
    ollama_registry: str = Field("https://registry.ollama.ai", description="Ollama registry address.")
    ollama_site: str = Field("https://ollama.com", description="Ollama website shown in the Ollama tab.")
    max_parallel_downloads: int = Field(2, ge=1, le=8, description="Downloads running at once.")
    max_parallel_conversions: int = Field(1, ge=1, le=4, description="Conversions running at once.")
    retries: int = Field(5, ge=0, le=50, description="Retries for a transient network error.")
    connections: int = Field(8, ge=1, le=16, description="A big file comes in parts fetched over this many "
                             "connections at once (1 = one stream): hubs and CDNs cap each connection.")
    stall_s: float = Field(20.0, ge=2, le=600, description="Seconds without a byte before a part of a "
                           "download is retried on a fresh connection.")

    @field_validator("default_quant")
    @classmethod
    def _known_quant(cls, value: str) -> str:
        upper = value.upper()
        if upper not in QUANT_CHOICES:
            raise ValueError(f"must be one of {', '.join(QUANT_CHOICES)}")
        return upper

    @field_validator("hf_endpoint", "ollama_registry", "ollama_site")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and info.field_name == "hf_endpoint":
            return value  # not set here: HF_ENDPOINT or the default applies (settings_env)
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class RuntimeSettings(_Section):
    llama_server_path: Path | None = Field(None, description="A llama-server binary to use instead of ours.")
    backend: Backend = Field(Backend.AUTO, description="GPU backend to build or install.")
    source_archive_url: str = Field("", description="Override for the llama.cpp source archive URL.")
    releases_api_url: str = Field("", description="Override for the llama.cpp releases API URL.")

    @field_validator("llama_server_path")
    @classmethod
    def _server_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _existing(value, info, folder=False)


class PoolSettings(_Section):
    workers: str = Field("", description="llama.cpp RPC workers to split models across, as llama-server's "
                         "--rpc takes them: host:port,host:port (start each with `llama-wrangler worker`).")
    enabled: bool = Field(False, description="Serve models across the workers (checked before each start).")
    tensor_split: str = Field("", description="Share of the model per worker, e.g. 3,1 (empty: by free memory).")
    worker_host: str = Field("127.0.0.1", description="Address this computer's own worker binds when started "
                             "from the tray. Anything but 127.0.0.1 exposes it: use a private network.")
    worker_port: int = Field(50052, ge=1, le=65535, description="Port of this computer's own worker.")

    @field_validator("workers")
    @classmethod
    def _addresses(cls, value: str) -> str:
        from llama_wrangler.runtime.rpc_protocol import WorkerError, parse_address

        addresses = [item.strip() for item in value.split(",") if item.strip()]
        for address in addresses:
            try:
                parse_address(address)
            except WorkerError as exc:
                raise ValueError(exc.message) from None
        if len(set(addresses)) != len(addresses):
            raise ValueError("lists a worker twice")
        return ",".join(addresses)

    @field_validator("tensor_split")
    @classmethod
    def _split(cls, value: str) -> str:
        parts = [item.strip() for item in value.split(",") if item.strip()]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise ValueError("must be numbers separated by commas, e.g. 3,1") from None
        if any(number < 0 for number in numbers) or (numbers and sum(numbers) <= 0):
            raise ValueError("must be non-negative shares with a positive sum")
        return ",".join(parts)

    def worker_list(self) -> list[str]:
        return [item for item in self.workers.split(",") if item]

    def split_list(self) -> list[float]:
        return [float(item) for item in self.tensor_split.split(",") if item]


class UiSettings(_Section):
    theme: Theme = Field(Theme.SYSTEM, description="Light, dark, or follow the system.")
    close_to_tray: bool = Field(True, description="Closing the window keeps the app in the tray.")
    notifications: bool = Field(True, description="Tray notifications for ready/crash/download done.")


class Settings(_Section):
    schema_version: int = Field(SCHEMA_VERSION, description="Settings file format version.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    library: LibrarySettings = Field(default_factory=LibrarySettings)
    downloads: DownloadSettings = Field(default_factory=DownloadSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    ui: UiSettings = Field(default_factory=UiSettings)


@dataclass(frozen=True)
class LoadedSettings:
    """What :func:`load_settings` found. ``problem`` is set when the file was unusable and defaults are
    in use; ``kept_aside`` is where the bad file went."""

    settings: Settings
    problem: str | None = None
    kept_aside: Path | None = None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field as a dotted path (``server.port: ...``)."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(file)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {message}")
    return "; ".join(lines)


def load_settings(path: Path) -> LoadedSettings:
    if not path.exists():
        return LoadedSettings(Settings())
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _keep_aside(path, f"it is not valid JSON ({exc})")
    if not isinstance(raw, dict):
        return _keep_aside(path, "it does not hold a JSON object")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return _keep_aside(path, f"it was written by a newer version (schema {version})")
    try:
        return LoadedSettings(Settings.model_validate(raw))
    except ValidationError as exc:
        return _keep_aside(path, describe_validation_error(exc))


def _keep_aside(path: Path, reason: str) -> LoadedSettings:
    aside: Path | None
    try:
        aside = move_aside(path)
    except OSError:
        aside = None
    where = f" It was kept as {aside.name}." if aside else ""
    message = f"Your settings file could not be used: {reason}. Default settings are in use.{where}"
    return LoadedSettings(Settings(), problem=message, kept_aside=aside)


def save_settings(path: Path, settings: Settings) -> None:
    try:
        write_json_atomic(path, settings.model_dump(mode="json"))
    except OSError as exc:
        raise SettingsError(f"Could not save settings to {path}: {exc.strerror or exc}.") from exc
