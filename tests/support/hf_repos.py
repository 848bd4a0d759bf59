"""Repos for the loopback hub: real GGUF files in several quants, a split set, a projector, and a repo with
hostile file names. Sizes differ per quant so "largest that fits" has something to choose from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFValueType

from tests.support.fake_hub import FakeHub, HubRepo
from tests.support.gguf_files import write_gguf, write_split_gguf

GGUF_REPO = "org/tiny-GGUF"
HOSTILE_REPO = "org/hostile-GGUF"
GATED_REPO = "org/gated-GGUF"

# quant -> (llama.cpp file type, rows of a 256-wide float32 tensor: the file's size)
QUANTS = {"Q2_K": (10, 8), "Q4_K_M": (15, 64), "Q8_0": (7, 128), "F16": (1, 256)}


@dataclass(frozen=True)
class PublishedGGUF:
    repo: HubRepo
    files: dict[str, Path]  # repo path -> local source file


def _quant_file(folder: Path, quant: str, rows: int) -> Path:
    file_type, _ = QUANTS[quant]
    return write_gguf(folder / f"tiny-{quant}.gguf", name="tiny",
                      kv={"general.file_type": (file_type, GGUFValueType.UINT32)},
                      tensors={"token_embd.weight": np.arange(rows * 256, dtype=np.float32).reshape(rows, 256)})


def publish_gguf_repo(hub: FakeHub, work: Path, repo_id: str = GGUF_REPO, *, gated: bool = False) -> PublishedGGUF:
    work.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for quant in ("Q4_K_M", "Q8_0", "F16"):
        files[f"tiny-{quant}.gguf"] = _quant_file(work, quant, QUANTS[quant][1])
    shards = write_split_gguf(work / "split" / "tiny-Q2_K.gguf", 3, name="tiny",
                              kv={"general.file_type": (10, GGUFValueType.UINT32)})
    for shard in shards:
        files[f"Q2_K/{shard.name}"] = shard
    files["mmproj-tiny-F16.gguf"] = write_gguf(work / "mmproj-tiny-F16.gguf", arch="clip", name="proj")
    content: dict[str, bytes | Path] = {"README.md": b"# tiny\n", **files}
    repo = hub.add_repo(repo_id, content, gated=gated)
    return PublishedGGUF(repo, files)


def publish_hostile_repo(hub: FakeHub, work: Path) -> HubRepo:
    good = _quant_file(work / "hostile", "Q4_K_M", 64)
    return hub.add_repo(HOSTILE_REPO, {"tiny-Q4_K_M.gguf": good, "../evil-Q8_0.gguf": good,
                                       "/abs-F16.gguf": good, "ok/../../up-Q2_K.gguf": good})
