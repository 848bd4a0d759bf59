"""``ps``, ``load MODEL``, ``unload MODEL``: the loaded models of a running endpoint (the app's or
``llama-wrangler serve``'s), through its ``/models`` routes — the same ones the Server page and any HTTP
client use, so all three agree on what is loaded."""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from llama_wrangler.cli.context import CliContext
from llama_wrangler.errors import ServerError
from llama_wrangler.server.ports import connect_host, url_host
from llama_wrangler.units import human_bytes, human_duration

_LOAD_TIMEOUT_S = 900.0  # a big model from a slow disk; the endpoint itself gives up sooner


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands."""
    url_help = "the endpoint's address (default: server.host and server.port from the settings)"
    ps = subparsers.add_parser("ps", help="list the models loaded behind the running endpoint",
                               description="Show each loaded model: its state, memory estimate and actual "
                               "resident memory, requests running, idle time and when it is unloaded.")
    ps.add_argument("--url", help=url_help)
    ps.set_defaults(handler=ps_command)
    load = subparsers.add_parser("load", help="load a model behind the running endpoint (beside the others "
                                 "when it fits)", description="Load MODEL as a request naming it would, "
                                 "and wait until it is ready. Models loaded this way have no default idle "
                                 "timeout.")
    load.add_argument("model", metavar="MODEL")
    load.add_argument("--url", help=url_help)
    load.set_defaults(handler=load_command)
    unload = subparsers.add_parser("unload", help="unload a model (its running requests finish first)")
    unload.add_argument("model", metavar="MODEL")
    unload.add_argument("--url", help=url_help)
    unload.set_defaults(handler=unload_command)


def _base_url(args: argparse.Namespace, context: CliContext) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    server = context.settings.server
    return f"http://{url_host(connect_host(server.host))}:{server.port}"


def _call(method: str, url: str, context: CliContext, *, body: dict[str, Any] | None = None,
          timeout_s: float = 30.0) -> httpx.Response:
    key = context.settings.server.api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        return httpx.request(method, url, json=body, headers=headers, timeout=timeout_s)
    except httpx.ConnectError:
        base = url.rsplit("/models", 1)[0]
        raise ServerError(f"Nothing answers at {base}.",
                          hint="Start the app or `llama-wrangler serve` first (or pass --url if the endpoint "
                          "runs elsewhere).") from None
    except httpx.HTTPError as exc:
        raise ServerError(f"The endpoint did not answer: {exc}") from None


_NOT_OURS = "The server at {base} is not Llama Wrangler's endpoint (or an older one): it has no model control routes."
_OUR_404_CODES = ("model_not_found", "model_not_loaded")  # what our routes answer 404 with (anything else: not ours)


def _checked(response: httpx.Response, base: str) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    if response.status_code != 200:
        error = doc.get("error") if isinstance(doc, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if response.status_code in (404, 405) and code not in _OUR_404_CODES:
            raise ServerError(_NOT_OURS.format(base=base))  # e.g. a plain llama-server: "File Not Found"
        if response.status_code == 401:
            raise ServerError(message or "The endpoint wants an API key.",
                              hint="Set server.api_key in the settings to the key the endpoint was started with.")
        raise ServerError(message or f"The endpoint answered {response.status_code}.")
    return doc if isinstance(doc, dict) else {}


def ps_command(args: argparse.Namespace, context: CliContext) -> int:
    base = _base_url(args, context)
    doc = _checked(_call("GET", f"{base}/models", context), base)
    entries = [entry for entry in doc.get("data", []) if isinstance(entry, dict)]
    if any(entry.get("owned_by") != "llama-wrangler" for entry in entries):  # llama-server has /models too
        raise ServerError(_NOT_OURS.format(base=base))
    rows = [entry for entry in entries if entry.get("resident")]
    if not rows:
        print(f"No model is loaded at {base}.")
        return 0
    table = [("MODEL", "STATE", "ESTIMATE", "RSS", "RUNNING", "IDLE", "UNLOADS", "PID")]
    for entry in rows:
        resident = entry["resident"]
        ttl = resident.get("ttl_s")
        idle = float(resident.get("idle_s") or 0.0)
        if resident.get("pinned"):
            unloads = "pinned"
        elif ttl is None:
            unloads = "when room is needed"
        else:
            unloads = f"in {human_duration(max(0.0, ttl - idle))}"
        queued = f" +{resident['queued']} queued" if resident.get("queued") else ""
        running = f"{resident.get('in_flight', 0)}{queued}"
        name = entry["id"] + (" *" if resident.get("default") else "")
        table.append((name, str(entry.get("state", "")), human_bytes(resident.get("estimate_bytes") or None),
                      human_bytes(resident.get("rss_bytes")), running,
                      "busy" if resident.get("in_flight") else human_duration(idle), unloads,
                      str(resident.get("pid") or "")))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("* takes requests that name no model")
    return 0


def load_command(args: argparse.Namespace, context: CliContext) -> int:
    base = _base_url(args, context)
    print(f"loading {args.model} at {base}…", flush=True)
    doc = _checked(_call("POST", f"{base}/models/load", context, body={"model": args.model},
                         timeout_s=_LOAD_TIMEOUT_S), base)
    print(f"{doc.get('model', args.model)} is loaded.")
    return 0


def unload_command(args: argparse.Namespace, context: CliContext) -> int:
    base = _base_url(args, context)
    doc = _checked(_call("POST", f"{base}/models/unload", context, body={"model": args.model}), base)
    print(f"{doc.get('model', args.model)} is being unloaded (its running requests finish first).")
    return 0
