"""Downloads from the loopback hub with the real huggingface_hub client: choices, verification, resume,
faults and errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llama_wrangler.errors import (
    CancelledError,
    ChecksumMismatchError,
    DiskSpaceError,
    DownloadError,
    UnsafePathError,
)
from llama_wrangler.library.origins import HfOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, Progress
from llama_wrangler.sources.disk import check_disk_space
from llama_wrangler.sources.hf_errors import GATED_MESSAGE, HubNotFoundError
from llama_wrangler.sources.hf_files import target_path
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import parse_hf_input
from llama_wrangler.sources.hf_pull import PullOptions, pull
from llama_wrangler.sources.hf_repo import inspect_repo
from llama_wrangler.sources.machine import RAM_SHARE, MachineResources, estimate_memory
from llama_wrangler.sources.partials import list_partials
from tests.support.fake_hub import FakeHub, Fault
from tests.support.hf_repos import (
    GATED_REPO,
    GGUF_REPO,
    HOSTILE_REPO,
    PublishedGGUF,
    publish_gguf_repo,
    publish_hostile_repo,
)

BIG = MachineResources(ram_bytes=1 << 40)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_listing_groups_quants_shards_and_projectors(gguf_repo: PublishedGGUF, access: HubAccess) -> None:
    listing = inspect_repo(parse_hf_input(f"hf:{GGUF_REPO}"), access, machine=BIG)
    assert [c.quant for c in listing.choices] == ["Q2_K", "Q4_K_M", "Q8_0", "F16"]
    split = listing.choice("q2_k")
    assert split.is_split and [Path(f.path).name for f in split.files] == [
        f"tiny-Q2_K-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert split.name == "tiny-Q2_K.gguf"
    assert [p.files[0].path for p in listing.projectors] == ["mmproj-tiny-F16.gguf"]
    assert listing.commit == gguf_repo.repo.sha
    assert not listing.convertible
    f16 = listing.choice("F16").files[0]
    assert f16.sha256 == _sha(gguf_repo.files["tiny-F16.gguf"])
    assert listing.recommended == listing.choice("F16")


def test_recommends_largest_quant_that_fits(gguf_repo: PublishedGGUF, access: HubAccess) -> None:
    request = parse_hf_input(f"hf:{GGUF_REPO}")
    q8 = inspect_repo(request, access, machine=BIG).choice("Q8_0")
    machine = MachineResources(ram_bytes=int(estimate_memory(q8.size, 512) / RAM_SHARE) + 1)
    listing = inspect_repo(request, access, machine=machine, context=512)
    assert listing.recommended is not None and listing.recommended.quant == "Q8_0"
    gpu = MachineResources(ram_bytes=0, vram_bytes=estimate_memory(q8.size, 512) - 1)
    assert inspect_repo(request, access, machine=gpu, context=512).recommended.quant == "Q4_K_M"  # type: ignore[union-attr]


def test_pull_quant_verified_and_registered(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                            app_paths: AppPaths, options: PullOptions) -> None:
    reports: list[Progress] = []
    record = pull(parse_hf_input(f"hf.co/{GGUF_REPO}:Q8_0"), paths=app_paths, library=library,
                  options=options, progress=reports.append, machine=BIG)
    source = gguf_repo.files["tiny-Q8_0.gguf"]
    assert record.path.read_bytes() == source.read_bytes()
    assert record.path.parent == library.models_dir / "org" / "tiny-GGUF"
    assert record.source == "hf" and record.owned
    assert record.origin == HfOrigin(repo=GGUF_REPO, revision=gguf_repo.repo.sha, files=("tiny-Q8_0.gguf",),
                                     quant="Q8_0")
    assert record.sha256 == _sha(source)
    # The repo is a vision model: its projector came along, beside the quant, paired with it.
    projector = gguf_repo.files["mmproj-tiny-F16.gguf"]
    assert record.mmproj == record.path.parent / "mmproj-tiny-F16.gguf"
    assert record.mmproj.read_bytes() == projector.read_bytes()
    assert reports[-1].done == reports[-1].total == source.stat().st_size + projector.stat().st_size
    assert list_partials(app_paths) == []
    assert list(app_paths.downloads_dir.iterdir()) == []
    # Pulling again reuses the file: no second transfer.
    transfers = len([r for r in hub.requests("GET") if "/cdn/" in r.path])
    again = pull(parse_hf_input(f"hf:{GGUF_REPO}:Q8_0"), paths=app_paths, library=library, options=options,
                 machine=BIG)
    assert again.id == record.id and len(library.models()) == 1
    assert len([r for r in hub.requests("GET") if "/cdn/" in r.path]) == transfers


def test_new_revision_of_the_same_file_is_downloaded_again(hub: FakeHub, gguf_repo: PublishedGGUF,
                                                           library: Library, app_paths: AppPaths,
                                                           options: PullOptions, tmp_path: Path) -> None:
    request = parse_hf_input(f"hf:{GGUF_REPO}:Q8_0")
    first = pull(request, paths=app_paths, library=library, options=options, machine=BIG)
    changed = tmp_path / "changed.gguf"
    data = bytearray(gguf_repo.files["tiny-Q8_0.gguf"].read_bytes())
    data[-1] ^= 0xFF  # same size, other content: a new commit on the hub
    changed.write_bytes(bytes(data))
    hub.add_repo(GGUF_REPO, {**gguf_repo.files, "tiny-Q8_0.gguf": changed})
    second = pull(request, paths=app_paths, library=library, options=options, machine=BIG)
    assert second.path == first.path
    assert second.path.read_bytes() == bytes(data)
    assert isinstance(first.origin, HfOrigin) and isinstance(second.origin, HfOrigin)
    assert second.origin.revision != first.origin.revision


def test_pull_split_set_registers_once(gguf_repo: PublishedGGUF, library: Library, app_paths: AppPaths,
                                       options: PullOptions) -> None:
    record = pull(parse_hf_input(f"hf:{GGUF_REPO}/Q2_K/tiny-Q2_K-00002-of-00003.gguf"), paths=app_paths,
                  library=library, options=options, machine=BIG)
    assert [p.name for p in record.paths] == [f"tiny-Q2_K-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert isinstance(record.origin, HfOrigin) and record.origin.quant == "Q2_K"
    assert record.origin.files == tuple(f"Q2_K/tiny-Q2_K-0000{i}-of-00003.gguf" for i in (1, 2, 3))
    assert len(library.models()) == 1


def test_interrupted_split_set_keeps_finished_shards(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                                     app_paths: AppPaths, options: PullOptions) -> None:
    request = parse_hf_input(f"hf:{GGUF_REPO}:Q2_K")
    hub.add_fault("Q2_K/tiny-Q2_K-00002-of-00003.gguf", *[Fault.status(500)] * 4)
    with pytest.raises(DownloadError, match="Gave up"):
        pull(request, paths=app_paths, library=library, options=options, machine=BIG)
    assert library.models() == []
    hub.reset_counters()
    record = pull(request, paths=app_paths, library=library, options=options, machine=BIG)
    fetched = [r.path.rsplit("/", 1)[1] for r in hub.requests("GET") if "/resolve/" in r.path]
    # Shard 1 was kept from the first run; the rest of the set (and the repo's projector) come now.
    assert fetched == ["tiny-Q2_K-00002-of-00003.gguf", "tiny-Q2_K-00003-of-00003.gguf", "mmproj-tiny-F16.gguf"]
    assert len(record.paths) == 3
    assert [p.name for p in app_paths.downloads_dir.iterdir()] == []


def test_tree_link_to_a_folder_picks_its_model(gguf_repo: PublishedGGUF, library: Library,
                                               app_paths: AppPaths, options: PullOptions) -> None:
    record = pull(parse_hf_input(f"https://huggingface.co/{GGUF_REPO}/tree/{gguf_repo.repo.sha}/Q2_K"),
                  paths=app_paths, library=library, options=options, machine=BIG)
    assert isinstance(record.origin, HfOrigin) and record.origin.quant == "Q2_K" and len(record.paths) == 3


def test_small_non_lfs_file_checked_against_git_oid(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                                    app_paths: AppPaths, options: PullOptions) -> None:
    # The shards are tiny, so they are plain git files: no sha256, the etag is the git blob id.
    shard = "Q2_K/tiny-Q2_K-00002-of-00003.gguf"
    assert not hub.state.repos[GGUF_REPO].files[shard].is_lfs
    hub.add_fault(shard, Fault.corrupt())
    with pytest.raises(ChecksumMismatchError, match="git object id"):
        pull(parse_hf_input(f"hf:{GGUF_REPO}:Q2_K"), paths=app_paths, library=library, options=options,
             machine=BIG)
    assert library.models() == []


def test_cut_transfer_resumes_with_a_range(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                           app_paths: AppPaths, options: PullOptions) -> None:
    size = gguf_repo.files["tiny-F16.gguf"].stat().st_size
    hub.add_fault("tiny-F16.gguf", Fault.cut(size // 3), Fault.cut(size // 3))
    record = pull(parse_hf_input(f"hf:{GGUF_REPO}:F16"), paths=app_paths, library=library, options=options,
                  machine=BIG)
    assert record.sha256 == _sha(gguf_repo.files["tiny-F16.gguf"])
    ranges = [r.range for r in hub.requests("GET") if "tiny-F16" in r.path and "/cdn/" in r.path]
    assert ranges[0] is None and ranges[1] == f"bytes={size // 3}-" and len(ranges) == 3
    assert hub.bytes_sent("tiny-F16.gguf") == size  # nothing fetched twice


def test_cancelled_download_resumes_after_restart(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                                  app_paths: AppPaths, options: PullOptions) -> None:
    size = gguf_repo.files["tiny-F16.gguf"].stat().st_size
    hub.add_fault("tiny-F16.gguf", Fault.slow(size * 4))  # ~0.25 s: time to cancel part-way
    cancel = CancelToken()

    def stop_half_way(report: Progress) -> None:
        if report.done >= size // 2:
            cancel.cancel()

    with pytest.raises(CancelledError):
        pull(parse_hf_input(f"hf:{GGUF_REPO}:F16"), paths=app_paths, library=library, options=options,
             progress=stop_half_way, cancel=cancel, machine=BIG)
    [partial] = list_partials(app_paths)
    assert partial.repo_id == GGUF_REPO and partial.file == "tiny-F16.gguf" and partial.quant == "F16"
    assert size // 2 <= partial.bytes_on_disk < size
    assert partial.request_text == f"hf:{GGUF_REPO}@{gguf_repo.repo.sha}/tiny-F16.gguf"
    assert library.models() == []

    # "Restart": a fresh library object and downloader pick the partial up.
    hub.reset_counters()
    fresh = Library(app_paths, hash_in_background=False).load()
    record = pull(parse_hf_input(partial.request_text), paths=app_paths, library=fresh, options=options,
                  machine=BIG)
    assert record.sha256 == _sha(gguf_repo.files["tiny-F16.gguf"])
    # One ranged request for the rest: nothing already on disk was fetched again.
    ranges = [r.range for r in hub.requests("GET") if "/cdn/" in r.path]
    assert ranges == [f"bytes={partial.bytes_on_disk}-"]
    assert list_partials(app_paths) == []


def test_wrong_bytes_never_enter_the_library(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                             app_paths: AppPaths, options: PullOptions) -> None:
    hub.add_fault("tiny-Q4_K_M.gguf", Fault.corrupt())
    with pytest.raises(ChecksumMismatchError, match="corrupt"):
        pull(parse_hf_input(f"hf:{GGUF_REPO}:Q4_K_M"), paths=app_paths, library=library, options=options,
             machine=BIG)
    assert library.models() == []
    assert not (library.models_dir / "org" / "tiny-GGUF" / "tiny-Q4_K_M.gguf").exists()
    assert list(app_paths.downloads_dir.iterdir()) == []


@pytest.mark.parametrize("fault", [Fault.status(500), Fault.status(503), Fault.status(429, retry_after=0)])
def test_transient_errors_are_retried(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                      app_paths: AppPaths, options: PullOptions, fault: Fault) -> None:
    hub.add_fault("tiny-Q4_K_M.gguf", fault, fault)
    record = pull(parse_hf_input(f"hf:{GGUF_REPO}:Q4_K_M"), paths=app_paths, library=library,
                  options=options, machine=BIG)
    assert record.path.is_file()
    statuses = [r.status for r in hub.requests("GET") if "tiny-Q4_K_M" in r.path and "/cdn/" in r.path]
    assert statuses == [fault.value, fault.value, 200]


def test_gives_up_after_retries_and_keeps_partial(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                                  app_paths: AppPaths, options: PullOptions) -> None:
    hub.add_fault("tiny-Q8_0.gguf", Fault.cut(1000), *[Fault.status(500)] * 4)
    with pytest.raises(DownloadError, match=r"Gave up .* after 3 retries"):
        pull(parse_hf_input(f"hf:{GGUF_REPO}:Q8_0"), paths=app_paths, library=library, options=options,
             machine=BIG)
    [partial] = list_partials(app_paths)
    assert partial.bytes_on_disk == 1000


@pytest.mark.parametrize(("text", "message"), [
    ("hf:org/missing", "org/missing was not found on the Hub"),
    (f"https://huggingface.co/{GGUF_REPO}/tree/nope", "Revision 'nope' does not exist"),
    (f"hf:{GGUF_REPO}/nope-Q4_K_M.gguf", "nope-Q4_K_M.gguf is not a GGUF file"),
    (f"hf:{GGUF_REPO}:IQ2_XXS", "has no IQ2_XXS GGUF. Available: Q2_K, Q4_K_M, Q8_0, F16"),
])
def test_not_found_errors(gguf_repo: PublishedGGUF, library: Library, app_paths: AppPaths,
                          options: PullOptions, text: str, message: str) -> None:
    with pytest.raises(HubNotFoundError, match=message):
        pull(parse_hf_input(text), paths=app_paths, library=library, options=options, machine=BIG)


def test_file_deleted_between_listing_and_download(hub: FakeHub, gguf_repo: PublishedGGUF, library: Library,
                                                   app_paths: AppPaths, options: PullOptions,
                                                   access: HubAccess) -> None:
    from llama_wrangler.sources.hf_pull import pull_choice

    listing = inspect_repo(parse_hf_input(f"hf:{GGUF_REPO}"), access, machine=BIG)
    del hub.state.repos[GGUF_REPO].files["tiny-Q8_0.gguf"]
    with pytest.raises(HubNotFoundError, match=r"tiny-Q8_0\.gguf does not exist in org/tiny-GGUF"):
        pull_choice(listing, listing.choice("Q8_0"), paths=app_paths, library=library, options=options)


def test_gated_repo_needs_a_token(hub: FakeHub, tmp_path: Path, library: Library, app_paths: AppPaths) -> None:
    publish_gguf_repo(hub, tmp_path / "gated-src", GATED_REPO, gated=True)
    request = parse_hf_input(f"hf:{GATED_REPO}:Q4_K_M")
    for token in (None, "hf_wrong"):
        with pytest.raises(Exception, match=GATED_MESSAGE.split(":")[0]) as info:
            pull(request, paths=app_paths, library=library,
                 options=PullOptions(HubAccess(hub.endpoint, token)), machine=BIG)
        assert str(info.value) == GATED_MESSAGE
    hub.add_token("hf_good")
    record = pull(request, paths=app_paths, library=library,
                  options=PullOptions(HubAccess(hub.endpoint, "hf_good")), machine=BIG)
    assert isinstance(record.origin, HfOrigin) and record.origin.repo == GATED_REPO
    # The token went to the Hub, never to the CDN.
    cdn = [r for r in hub.requests("GET") if "/cdn/" in r.path]
    assert cdn and all(r.authorization is None for r in cdn)
    assert any(r.authorization == "Bearer hf_good" for r in hub.requests() if "/resolve/" in r.path)


def test_hostile_names_are_refused(hub: FakeHub, tmp_path: Path, access: HubAccess, library: Library,
                                   app_paths: AppPaths, options: PullOptions) -> None:
    publish_hostile_repo(hub, tmp_path)
    listing = inspect_repo(parse_hf_input(f"hf:{HOSTILE_REPO}"), access, machine=BIG)
    assert [c.files[0].path for c in listing.choices] == ["tiny-Q4_K_M.gguf"]
    assert set(listing.refused) == {"../evil-Q8_0.gguf", "/abs-F16.gguf", "ok/../../up-Q2_K.gguf"}
    with pytest.raises(UnsafePathError):
        listing.file_choice("../evil-Q8_0.gguf")
    with pytest.raises(UnsafePathError):
        target_path(library.models_dir, HOSTILE_REPO, "../../../../etc/evil.gguf")
    record = pull(parse_hf_input(f"hf:{HOSTILE_REPO}"), paths=app_paths, library=library, options=options,
                  machine=BIG)
    assert isinstance(record.origin, HfOrigin) and record.origin.files == ("tiny-Q4_K_M.gguf",)
    assert not any(p.name.startswith("evil") for p in app_paths.data_dir.parent.rglob("*"))


def test_disk_space_checked_first(tmp_path: Path) -> None:
    with pytest.raises(DiskSpaceError, match="Not enough free disk space"):
        check_disk_space(tmp_path, 1 << 60)
    check_disk_space(tmp_path / "not" / "yet", 1024)
