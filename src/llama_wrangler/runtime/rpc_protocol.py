"""Ask a llama.cpp RPC worker (``ggml-rpc-server``) who it is, before a model is split across it.

The worker speaks ggml's RPC protocol over TCP. A client's first command must be HELLO; the answer is
the worker's protocol version, which is what decides compatibility (llama.cpp refuses a worker whose
major version differs or whose minor version is newer than its own; the patch version moves whenever
ggml's operator set changes, i.e. with the llama.cpp build). Then DEVICE_COUNT and GET_DEVICE_MEMORY say
how much memory the worker offers. Qt-free.

Wire format (little-endian, from ``ggml/src/ggml-rpc/ggml-rpc.cpp`` of the pinned tree): a request is
``cmd: u8, size: u64, payload``; a reply is ``size: u64, payload``. A worker serves one client at a
time, so while llama-server holds its connection a probe only gets a timeout — probe before serving,
and use a plain TCP connect to see whether a worker is still there.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from llama_wrangler.errors import WranglerError

CMD_GET_DEVICE_MEMORY = 11
CMD_HELLO = 14
CMD_DEVICE_COUNT = 15
CONN_CAPS_SIZE = 24  # transport capabilities (RDMA negotiation); all zero: plain TCP
MAX_DEVICES = 64  # far beyond any real worker: a larger count is a foreign service, not a worker

# The protocol the pinned llama.cpp build (b11312) speaks; tests check it against the real binary.
PINNED_PROTOCOL = (7, 0, 0)


class WorkerError(WranglerError):
    """A pool worker cannot be used (unreachable, not a worker, or of another llama.cpp build)."""


@dataclass(frozen=True, order=True)
class RpcVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def accepts(self, worker: RpcVersion) -> bool:
        """Whether a client speaking this version can use ``worker`` (llama.cpp's own rule)."""
        return worker.major == self.major and worker.minor <= self.minor


PINNED_VERSION = RpcVersion(*PINNED_PROTOCOL)


@dataclass(frozen=True)
class DeviceMemory:
    free: int
    total: int


@dataclass(frozen=True)
class WorkerInfo:
    address: str
    version: RpcVersion
    devices: tuple[DeviceMemory, ...]

    @property
    def free_bytes(self) -> int:
        return sum(device.free for device in self.devices)


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) -> (host, port). Raises :class:`WorkerError`."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise WorkerError(f"{text!r} is not a worker address.", hint="Write it as host:port, e.g. 192.168.1.20:50052.")
    host = host.removeprefix("[").removesuffix("]")
    port = int(port_text)
    if not 0 < port < 65536 or any(char.isspace() for char in host) or "," in host:
        raise WorkerError(f"{text!r} is not a worker address.", hint="Write it as host:port, e.g. 192.168.1.20:50052.")
    return host, port


def reachable(address: str, *, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``address`` (a worker busy with a client still does)."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_worker(address: str, *, timeout: float = 3.0) -> WorkerInfo:
    """HELLO, DEVICE_COUNT and GET_DEVICE_MEMORY against the worker at ``address``."""
    host, port = parse_address(address)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise WorkerError(f"The worker at {address} cannot be reached ({exc.strerror or exc}).",
                          hint="Start it with `llama-wrangler worker` on that machine, or check the address.") from None
    with sock:
        try:
            reply = _call(sock, CMD_HELLO, bytes(CONN_CAPS_SIZE), expect=4 + CONN_CAPS_SIZE)
            version = RpcVersion(reply[0], reply[1], reply[2])
            (count,) = struct.unpack("<I", _call(sock, CMD_DEVICE_COUNT, b"", expect=4))
            if count > MAX_DEVICES:
                raise WorkerError(f"The service at {address} is not a llama.cpp RPC worker.")
            devices = tuple(DeviceMemory(*struct.unpack("<QQ", _call(sock, CMD_GET_DEVICE_MEMORY,
                                                                       struct.pack("<I", index), expect=16)))
                            for index in range(count))
        except TimeoutError:
            raise WorkerError(f"The worker at {address} did not answer within {timeout:g} s.",
                              hint="It may be serving another llama-server right now (a worker takes one "
                              "client at a time), or it is not a llama.cpp RPC worker.") from None
        except (OSError, _ProtocolError) as exc:
            raise WorkerError(f"The service at {address} does not speak llama.cpp's RPC protocol ({exc}).") from None
    return WorkerInfo(address, version, devices)


def check_compatible(worker: WorkerInfo, local: RpcVersion, local_build: str) -> None:
    """Refuse a worker of another llama.cpp build, naming both versions."""
    if not local.accepts(worker.version):
        raise WorkerError(f"The worker at {worker.address} runs another llama.cpp build: it speaks RPC protocol "
                          f"{worker.version}, this computer's llama.cpp ({local_build}) speaks {local}.",
                          hint="Install the same llama.cpp version on both machines (`llama-wrangler runtime "
                          "install` there).")


class _ProtocolError(Exception):
    pass


def _call(sock: socket.socket, command: int, payload: bytes, *, expect: int) -> bytes:
    sock.sendall(struct.pack("<BQ", command, len(payload)) + payload)
    (size,) = struct.unpack("<Q", _receive(sock, 8))
    if size != expect:
        raise _ProtocolError(f"reply of {size} bytes to command {command}, expected {expect}")
    return _receive(sock, expect)


def _receive(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise _ProtocolError("the connection was closed")
        data.extend(chunk)
    return bytes(data)
