"""CLI: ``search QUERY`` — GGUF repos on the Hub, most downloaded (or trending) first, each with its quants,
their sizes and whether they fit this machine (the Add-model dialog's search, in a terminal)."""

from __future__ import annotations

import argparse
from typing import Any

from llama_wrangler.cli.context import CliContext
from llama_wrangler.units import human_bytes


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    search = subparsers.add_parser(
        "search", help="search the Hugging Face Hub for GGUF models",
        description="Search the Hub for GGUF repos matching QUERY and list each one's quants with their size "
        "and whether they fit this machine (in VRAM, in RAM, or too large). Download one with "
        "llama-wrangler pull hf:REPO:QUANT.")
    search.add_argument("query", metavar="QUERY", nargs="+")
    search.add_argument("--sort", choices=("downloads", "trending"), default="downloads",
                        help="order of the results (default: downloads)")
    search.add_argument("--limit", type=int, default=10, help="how many repos (default 10, at most 100)")
    search.add_argument("--no-quants", action="store_true", help="list the repos only (one request)")
    search.set_defaults(handler=cmd_search)


def cmd_search(args: argparse.Namespace, context: CliContext) -> int:
    from llama_wrangler.sources.hf_hub import HubAccess
    from llama_wrangler.sources.hf_input import HfRequest
    from llama_wrangler.sources.hf_repo import inspect_repo
    from llama_wrangler.sources.hf_search import SearchSort, quant_fits, search_hub
    from llama_wrangler.sources.machine import MachineResources

    access = HubAccess.from_settings(context.settings.downloads)
    hits = search_hub(access, " ".join(args.query), sort=SearchSort(args.sort), limit=args.limit)
    if not hits:
        print(f"No GGUF repos on {access.host} match {' '.join(args.query)!r}.")
        return 0
    machine = MachineResources.detect()
    context_size = context.settings.server.context_size
    for hit in hits:
        print(f"{hit.repo_id}  ({hit.downloads:,} downloads, {hit.likes:,} likes)")
        if args.no_quants:
            continue
        listing = inspect_repo(HfRequest(hit.repo_id), access, machine=machine, context=context_size)
        for quant in quant_fits(listing, machine, context_size):
            mark = "*" if quant.choice == listing.recommended else " "
            print(f"  {mark} {quant.choice.quant:<10} {human_bytes(quant.size):>10}  {quant.fit.value}")
        if listing.projectors:
            print(f"    + vision projector {listing.projectors[0].files[0].path}")
    if not args.no_quants:
        print("(* = the largest that fits; download with: llama-wrangler pull hf:REPO:QUANT)")
    return 0
