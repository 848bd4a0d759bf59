"""The stable endpoint's pure HTTP decisions: headers, model names, errors, API key, CORS."""

from __future__ import annotations

import json

from llama_wrangler.server.endpoint.wire import (
    authorized,
    cors_headers,
    error_body,
    forwardable_headers,
    models_document,
    origin_allowed,
    parse_origins,
    requested_model,
    sse_error_event,
)


def test_hop_by_hop_and_framing_headers_are_dropped() -> None:
    headers = [("Host", "x"), ("Connection", "keep-alive, X-Private"), ("Keep-Alive", "timeout=5"),
               ("Transfer-Encoding", "chunked"), ("Content-Length", "12"), ("X-Private", "secret"),
               ("Authorization", "Bearer k"), ("Content-Type", "application/json"), ("TE", "trailers"),
               ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic x")]
    assert forwardable_headers(headers) == [("Authorization", "Bearer k"), ("Content-Type", "application/json")]


def test_repeated_end_to_end_headers_all_travel() -> None:
    headers = [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert forwardable_headers(headers) == headers


def test_the_model_is_read_from_a_json_body_only() -> None:
    body = json.dumps({"model": "alpha", "prompt": "hi"}).encode()
    assert requested_model("application/json", body) == "alpha"
    assert requested_model("application/json; charset=utf-8", body) == "alpha"
    assert requested_model("text/plain", body) is None
    assert requested_model("application/json", b"") is None
    assert requested_model("application/json", b"{not json") is None
    assert requested_model("application/json", b"[1, 2]") is None
    assert requested_model("application/json", b'{"model": 3}') is None
    assert requested_model("application/json", b'{"model": ""}') is None
    assert requested_model("application/json", b'{"prompt": "x"}') is None


def test_errors_and_model_lists_have_the_openai_shape() -> None:
    assert json.loads(error_body("gone", "unavailable")) == {
        "error": {"message": "gone", "type": "unavailable", "code": None}}
    listed = json.loads(models_document([("a", "loaded"), ("b", "unloaded")]))
    assert listed["object"] == "list"
    assert [(m["id"], m["object"], m["state"]) for m in listed["data"]] == [
        ("a", "model", "loaded"), ("b", "model", "unloaded")]
    assert all(set(m) >= {"id", "object", "created", "owned_by"} for m in listed["data"])
    event = sse_error_event("cut")
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:])["error"]["message"] == "cut"


def test_any_bearer_passes_when_no_key_is_set_and_only_the_key_when_one_is() -> None:
    assert authorized({"Authorization": "Bearer anything"}, "")
    assert authorized({}, "")
    assert authorized({"Authorization": "Bearer s3cret"}, "s3cret")
    assert authorized({"X-Api-Key": "s3cret"}, "s3cret")
    assert not authorized({"Authorization": "Bearer wrong"}, "s3cret")
    assert not authorized({}, "s3cret")


def test_only_loopback_pages_may_call_by_default() -> None:
    for origin in ("http://localhost:3000", "http://127.0.0.1:5173", "https://[::1]:8443", "http://app.localhost"):
        assert origin_allowed(origin, ()), origin
    for origin in ("https://evil.example", "http://192.168.1.5:3000", "null", "file://", "http://localhost.evil.com"):
        assert not origin_allowed(origin, ()), origin


def test_listed_origins_or_any() -> None:
    allowed = parse_origins(" https://chat.example.com/ , http://Intranet:8080")
    assert allowed == ("https://chat.example.com", "http://intranet:8080")
    assert origin_allowed("https://chat.example.com", allowed)
    assert origin_allowed("http://intranet:8080", allowed)
    assert not origin_allowed("http://localhost:3000", allowed)  # a list replaces the default
    assert origin_allowed("https://anything.example", parse_origins("*"))


def test_a_preflight_allows_the_openai_sdk_headers() -> None:
    headers = cors_headers("http://localhost:3000", preflight=True,
                           requested_headers="content-type, x-stainless-os, x-stainless-new-thing")
    allowed = {name.strip().lower() for name in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-stainless-os", "x-stainless-new-thing"} <= allowed
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Methods" not in cors_headers("http://localhost:3000", preflight=False)
