"""Inspect a model repo on the Hub: its GGUF quants (split sets as one choice), projector files, whether
it is a safetensors repo we can convert, and which quant fits this machine best.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from llama_wrangler.errors import UnsafePathError
from llama_wrangler.paths import confined
from llama_wrangler.sources.hf_errors import HubNotFoundError, hub_errors
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HfRequest
from llama_wrangler.sources.machine import MachineResources, estimate_memory

_SHARD = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
# Quant labels llama.cpp writes (and people put in file names), longest alternatives first.
_QUANT_IN_NAME = re.compile(
    r"(?<![A-Za-z0-9])((?:UD-)?(?:I?Q[1-8](?:_[0-9])?(?:_(?:K|XXS|XS|S|M|L|XL|NL|0|1))*(?:_(?:S|M|L|XL))?"
    r"|BF16|F16|F32|FP16|FP32|MXFP4(?:_MOE)?|TQ[12]_0))(?![A-Za-z0-9])",
    re.IGNORECASE,
)
CONVERT_NEEDS = re.compile(
    r"^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|tokenizer\.model|"
    r"special_tokens_map\.json|added_tokens\.json|vocab\.json|merges\.txt|chat_template\.jinja|"
    r".*\.safetensors|model\.safetensors\.index\.json)$"
)


@dataclass(frozen=True)
class RepoEntry:
    """One file in the repo. ``sha256`` is the LFS checksum (None for small non-LFS files)."""

    path: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class QuantChoice:
    """One thing a user can pick: a GGUF file or a complete split set (shard 1 first)."""

    quant: str
    files: tuple[RepoEntry, ...]
    mmproj: bool = False

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_split(self) -> bool:
        return len(self.files) > 1

    @property
    def name(self) -> str:
        """The model's file name without shard suffix (what the library shows)."""
        first = PurePosixPath(self.files[0].path).name
        match = _SHARD.match(first)
        return f"{match['stem']}.gguf" if match else first


@dataclass(frozen=True)
class RepoListing:
    repo_id: str
    revision: str  # what was asked for (branch, tag or commit)
    commit: str  # the commit it resolved to: downloads pin to this
    files: tuple[RepoEntry, ...]
    choices: tuple[QuantChoice, ...]  # GGUF models, smallest first
    projectors: tuple[QuantChoice, ...]  # mmproj files (vision projectors), offered separately
    convertible: bool  # a safetensors model with a config: convert_hf_to_gguf.py can make a GGUF
    refused: tuple[str, ...] = ()  # file names that would escape a folder: never offered
    recommended: QuantChoice | None = None
    machine: MachineResources | None = field(default=None, compare=False)

    @property
    def safetensors_size(self) -> int:
        return sum(f.size for f in self.files if f.path.endswith(".safetensors"))

    def projector_for(self, choice: QuantChoice) -> QuantChoice | None:
        """The vision projector that goes with ``choice``: one in its folder (else the repo's top level),
        F16 preferred (projectors are small, and F16 is what every llama.cpp build reads), else the
        smallest. None for a text-only repo."""
        folder = choice.files[0].path.rpartition("/")[0]
        near = [p for p in self.projectors if p.files[0].path.rpartition("/")[0] == folder]
        near = near or [p for p in self.projectors if "/" not in p.files[0].path]
        f16 = [p for p in near if "f16" in p.files[0].path.lower()]
        chosen = f16 or near
        return chosen[0] if chosen else None

    def conversion_files(self) -> tuple[RepoEntry, ...]:
        """What convert_hf_to_gguf.py needs: config, tokenizer files, weights and their index."""
        return tuple(f for f in self.files if "/" not in f.path and CONVERT_NEEDS.match(f.path))

    def choice(self, quant: str) -> QuantChoice:
        """The GGUF choice for ``quant`` (case-insensitive); raises with the available ones listed."""
        wanted = quant.upper()
        matches = [c for c in self.choices if c.quant.upper() == wanted]
        if not matches:
            available = ", ".join(c.quant for c in self.choices) or "none"
            raise HubNotFoundError(f"{self.repo_id} has no {wanted} GGUF. Available: {available}.")
        return matches[0]

    def file_choice(self, path: str) -> QuantChoice:
        """The choice a named file belongs to (naming any shard picks the whole split set)."""
        for item in (*self.choices, *self.projectors):
            if any(f.path == path for f in item.files):
                return item
        if path in self.refused:
            raise UnsafePathError(f"Refused the file name {path!r}: it points outside its folder.")
        raise HubNotFoundError(f"{path} is not a GGUF file in {self.repo_id} at {self.revision}.")


def quant_of(path: str) -> str:
    """The quant label in a GGUF file name (or its folder), upper-cased; the file stem if none."""
    pure = PurePosixPath(path)
    name = pure.name
    match = _SHARD.match(name)
    stem = match["stem"] if match else name.removesuffix(".gguf").removesuffix(".GGUF")
    for candidate in (stem, *reversed(pure.parent.parts)):
        found = _QUANT_IN_NAME.findall(candidate)
        if found:
            return str(found[-1]).upper()
    return stem


def group_gguf(files: list[RepoEntry]) -> tuple[list[QuantChoice], list[QuantChoice]]:
    """GGUF files grouped into choices: split sets collapse into one; mmproj files are kept apart.
    Incomplete split sets are left out (nothing could load them)."""
    singles: list[QuantChoice] = []
    projectors: list[QuantChoice] = []
    sets: dict[tuple[str, int], dict[int, RepoEntry]] = {}
    for entry in files:
        name = PurePosixPath(entry.path).name
        if not name.lower().endswith(".gguf"):
            continue
        match = _SHARD.match(name)
        if match:
            stem = str(PurePosixPath(entry.path).parent / match["stem"])
            sets.setdefault((stem, int(match["count"])), {})[int(match["no"])] = entry
            continue
        is_projector = "mmproj" in name.lower()
        choice = QuantChoice(quant_of(entry.path), (entry,), mmproj=is_projector)
        (projectors if is_projector else singles).append(choice)
    for (_stem, count), shards in sets.items():
        if sorted(shards) != list(range(1, count + 1)):
            continue
        ordered = tuple(shards[i] for i in range(1, count + 1))
        singles.append(QuantChoice(quant_of(ordered[0].path), ordered))
    singles.sort(key=lambda c: (c.size, c.files[0].path))
    projectors.sort(key=lambda c: (c.size, c.files[0].path))
    return singles, projectors


def recommend(choices: list[QuantChoice], machine: MachineResources, context: int) -> QuantChoice | None:
    """The largest choice whose estimated memory need fits this machine (see :func:`estimate_memory`)."""
    fitting = [c for c in choices if machine.fits(estimate_memory(c.size, context))]
    return max(fitting, key=lambda c: c.size) if fitting else None


def inspect_repo(request: HfRequest, access: HubAccess, *, machine: MachineResources | None = None,
                 context: int = 4096) -> RepoListing:
    """List the repo at the request's revision (recursively) and group what can be downloaded."""
    api = access.api()
    with hub_errors(request.repo_id, revision=request.revision):
        info = api.model_info(request.repo_id, revision=request.revision)
        commit = info.sha or request.revision
        tree = list(api.list_repo_tree(request.repo_id, revision=commit, recursive=True))
    entries: list[RepoEntry] = []
    refused: list[str] = []
    for item in tree:
        size = getattr(item, "size", None)
        if size is None:  # a folder
            continue
        try:
            # Checked against a dummy root: a name that escapes it would escape any folder we use.
            confined(_NAME_CHECK_ROOT, item.path)
        except UnsafePathError:
            refused.append(item.path)
            continue
        lfs = getattr(item, "lfs", None)
        entries.append(RepoEntry(item.path, int(size), lfs.sha256 if lfs is not None else None))
    if request.folder:
        prefix = request.folder.rstrip("/") + "/"
        entries = [e for e in entries if e.path.startswith(prefix) or "/" not in e.path]
    choices, projectors = group_gguf(entries)
    names = {e.path for e in entries}
    convertible = "config.json" in names and any(n.endswith(".safetensors") and "/" not in n for n in names)
    machine = machine or MachineResources.detect()
    return RepoListing(
        repo_id=request.repo_id, revision=request.revision, commit=commit, files=tuple(entries),
        choices=tuple(choices), projectors=tuple(projectors), convertible=convertible,
        refused=tuple(refused), recommended=recommend(choices, machine, context), machine=machine,
    )


_NAME_CHECK_ROOT = Path("/nonexistent-llama-wrangler-root")
