from __future__ import annotations

import json

from llama_wrangler.server.proxy_http import error_body, forwardable_headers, models_document, requested_model


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
    listed = json.loads(models_document(["a", "b"]))
    assert listed["object"] == "list"
    assert [(m["id"], m["object"]) for m in listed["data"]] == [("a", "model"), ("b", "model")]
