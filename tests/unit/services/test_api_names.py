"""The names a client may send for a model: its id, and its names when they point at one model only."""

from __future__ import annotations

from pathlib import Path

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.services.serve_target import api_facts, api_names
from llama_wrangler.settings import ImportMode
from tests.support.gguf_files import write_gguf


def test_display_names_map_to_ids_unless_shared(app_paths: AppPaths, tmp_path: Path) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    files = [write_gguf(tmp_path / "alpha-Q4_K_M.gguf", name="Alpha Chat"),
             write_gguf(tmp_path / "beta-Q4_K_M.gguf", name="Twin"),
             write_gguf(tmp_path / "gamma-Q4_K_M.gguf", name="Twin")]
    records = library.import_files(files, ImportMode.LINK)
    ids, aliases = api_names(records)
    assert sorted(ids) == sorted(record.id for record in records)
    alpha = next(record for record in records if record.path.name.startswith("alpha"))
    assert aliases["Alpha Chat"] == alpha.id
    assert "Twin" not in aliases  # two models share it: it names neither
    assert not set(aliases) & set(ids)


def test_ollama_facts_come_from_the_record_and_its_header(app_paths: AppPaths, tmp_path: Path) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    records = library.import_files([write_gguf(tmp_path / "alpha-Q4_K_M.gguf", name="Alpha Chat")], ImportMode.LINK)
    record = records[0]
    facts = api_facts(records)[record.id]
    assert facts.size_bytes == record.size_bytes > 0
    assert facts.family and facts.family == record.info.architecture
    assert facts.quantization_level == (record.quant or "")
    assert facts.modified_at == record.added_at and facts.digest == ""  # not hashed yet: no digest invented
    assert facts.context_length == record.info.context_length


def test_ollama_show_lists_the_models_own_load_settings(app_paths: AppPaths, tmp_path: Path) -> None:
    import json

    from llama_wrangler.library.load_settings import LoadSettings
    from llama_wrangler.server.endpoint.ollama_wire import show_doc

    library = Library(app_paths, hash_in_background=False).load()
    [record] = library.import_files([write_gguf(tmp_path / "alpha-Q4_K_M.gguf")], ImportMode.LINK)
    assert json.loads(show_doc(record.id, api_facts([record])[record.id]))["parameters"] == ""
    record = library.set_load_settings(record.id, LoadSettings(context_size=8192, threads=4, parallel=2))
    shown = json.loads(show_doc(record.id, api_facts([record])[record.id]))
    assert [line.split() for line in shown["parameters"].splitlines()] == [["num_ctx", "8192"], ["num_thread", "4"]]
    assert "PARAMETER num_ctx 8192\n" in shown["modelfile"]


def test_an_embedding_model_shows_the_embedding_capability(app_paths: AppPaths, tmp_path: Path) -> None:
    """As Ollama decides it: a model whose header names a pooling type makes embeddings, not completions
    (clients pick embedding models by ``/api/show``'s ``capabilities``)."""
    import json

    from llama_wrangler.server.endpoint.ollama_wire import show_doc

    library = Library(app_paths, hash_in_background=False).load()
    embedder = write_gguf(tmp_path / "embedder-F16.gguf", arch="bert", kv={"bert.pooling_type": 1})
    chat = write_gguf(tmp_path / "chat-Q4_K_M.gguf")
    records = {record.path.name: record for record in library.import_files([embedder, chat], ImportMode.LINK)}
    facts = api_facts(records.values())

    def capabilities(name: str) -> list[str]:
        record = records[name]
        return list(json.loads(show_doc(record.id, facts[record.id]))["capabilities"])

    assert capabilities("embedder-F16.gguf") == ["embedding"]
    assert capabilities("chat-Q4_K_M.gguf") == ["completion"]


def test_tools_thinking_and_fill_in_the_middle_show_as_capabilities(app_paths: AppPaths,
                                                                              tmp_path: Path) -> None:
    """Ollama clients (VS Code's, Zed's, Continue) offer tool use only for models whose ``/api/show`` lists
    ``tools``: read from the model's chat template, which is long (kept out of the stored header)."""
    import json

    from llama_wrangler.library.load_settings import LoadSettings
    from llama_wrangler.server.endpoint.ollama_wire import show_doc

    padding = "{# " + "a long template " * 600 + "#}"  # over the 4 KiB of text the header keeps
    tools = padding + "{%- if tools %}{{ tools | tojson }}{%- endif %}{{ messages[0].content }}"
    thinks = "{%- if enable_thinking %}<think>{%- endif %}{{ messages[0].content }}"
    files = [write_gguf(tmp_path / "agent-Q4_K_M.gguf", kv={"tokenizer.chat_template": tools}),
             write_gguf(tmp_path / "thinker-Q4_K_M.gguf", kv={"tokenizer.chat_template": thinks}),
             write_gguf(tmp_path / "plain-Q4_K_M.gguf", kv={"tokenizer.chat_template": "{{ messages[0].content }}"}),
             write_gguf(tmp_path / "coder-Q4_K_M.gguf", kv={f"tokenizer.ggml.fim_{role}_token_id": 3 + index
                                                            for index, role in enumerate(("pre", "suf", "mid"))})]
    library = Library(app_paths, hash_in_background=False).load()
    records = {record.path.name: record for record in library.import_files(files, ImportMode.LINK)}

    def capabilities(name: str) -> list[str]:
        record = library.get(records[name].id)
        return list(json.loads(show_doc(record.id, api_facts([record])[record.id]))["capabilities"])

    assert capabilities("agent-Q4_K_M.gguf") == ["completion", "tools"]
    assert capabilities("thinker-Q4_K_M.gguf") == ["completion", "thinking"]
    assert capabilities("plain-Q4_K_M.gguf") == ["completion"]
    assert capabilities("coder-Q4_K_M.gguf") == ["completion", "insert"]  # fill-in-the-middle tokens
    assert "tokenizer.chat_template" not in records["agent-Q4_K_M.gguf"].info.metadata  # the text is not kept
    # A template file in the model's load settings is what llama-server uses: it decides instead.
    template = tmp_path / "tools.jinja"
    template.write_text(tools, encoding="utf-8")
    library.set_load_settings(records["plain-Q4_K_M.gguf"].id, LoadSettings(chat_template=str(template)))
    assert capabilities("plain-Q4_K_M.gguf") == ["completion", "tools"]
    # Kept in the registry: a new session knows them without reading the template again.
    assert Library(app_paths, hash_in_background=False).load().get(records["agent-Q4_K_M.gguf"].id) \
        .info.template_caps == ("tools",)


def test_fill_in_the_middle_tokens_under_their_older_names_show_insert(app_paths: AppPaths, tmp_path: Path) -> None:
    """CodeLlama's GGUFs name their tokens ``tokenizer.ggml.prefix/suffix/middle_token_id``, which llama.cpp
    still reads for /infill: /api/show must list insert for them too."""
    import json

    from llama_wrangler.server.endpoint.ollama_wire import show_doc

    path = write_gguf(tmp_path / "codellama-Q4_K_M.gguf", kv={f"tokenizer.ggml.{role}_token_id": 3 + index
                                                              for index, role in enumerate(("prefix", "suffix",
                                                                                            "middle"))})
    record = Library(app_paths, hash_in_background=False).load().import_files([path], ImportMode.LINK)[0]
    assert json.loads(show_doc(record.id, api_facts([record])[record.id]))["capabilities"] == ["completion", "insert"]


def test_a_tool_use_template_beside_the_chat_template_shows_tools(app_paths: AppPaths, tmp_path: Path) -> None:
    """Hermes 2 Pro and Command R carry a second template, ``tokenizer.chat_template.tool_use``, which
    llama-server renders whenever a request has tools: such a model does tools though its main one does not."""
    import json

    from llama_wrangler.server.endpoint.ollama_wire import show_doc

    path = write_gguf(tmp_path / "hermes-Q4_K_M.gguf", kv={
        "tokenizer.chat_template": "{{ messages[0].content }}",
        "tokenizer.chat_template.tool_use": "{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}"})
    record = Library(app_paths, hash_in_background=False).load().import_files([path], ImportMode.LINK)[0]
    assert json.loads(show_doc(record.id, api_facts([record])[record.id]))["capabilities"] == ["completion", "tools"]
