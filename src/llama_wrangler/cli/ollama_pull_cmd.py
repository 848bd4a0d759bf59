"""CLI: ``pull`` for Ollama models (``ollama:llama3.2:1b``, ollama.com links, bare ``name:tag``).

Not a subcommand of its own — argparse cannot register ``pull`` twice — so ``pull`` in
:mod:`llama_wrangler.cli.hf_cmds` routes here what
:func:`~llama_wrangler.sources.pull_input.ollama_request_for` reads as an Ollama model. Ctrl-C keeps
the partial; the same command resumes it.
"""

from __future__ import annotations

import argparse

from llama_wrangler.cli.context import CliContext, open_hub_work
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.units import human_bytes


def cmd_pull_ollama(args: argparse.Namespace, context: CliContext, request: OllamaRequest) -> int:
    from llama_wrangler.cli.foreground import pull_in_foreground
    from llama_wrangler.sources.ollama_registry import fetch_manifest
    from llama_wrangler.sources.transfer import open_client

    work_factory = open_hub_work(context)
    options = work_factory.ollama_options()
    with open_client() as client:
        manifest = fetch_manifest(client, options.registry, request)
    if args.list:
        print(f"{request.display} ({options.registry})")
        for layer in manifest.layers:
            print(f"  {layer.kind or layer.media_type:<10} {human_bytes(layer.size):>10}  {layer.digest[:19]}…")
        return 0
    total = manifest.pull_size
    vision = " with its vision projector" if manifest.layer("projector") is not None else ""
    record = pull_in_foreground(
        context, work_factory.pull_ollama(request, manifest=manifest), quiet=args.quiet,
        heading=f"Downloading {request.display}{vision} ({human_bytes(total)}) from {options.registry}",
        total=total, ours=lambda partial: partial.request == request.display)
    if record is None:
        return 130
    print(f"Added {record.id}: {record.path}" + (f" (vision: {record.mmproj.name})" if record.mmproj else ""))
    return 0
