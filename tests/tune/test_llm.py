"""Questions from a chat model, against local stub servers speaking Ollama's /api/chat and the OpenAI
/v1/chat/completions protocol."""

from __future__ import annotations

from typing import Any

import pytest
from embed.stubs import StubServer
from helpers import HashEmbedder

from pisteur.store import open_store
from pisteur.tune.llm import LLMError, chat_model, parse_questions
from pisteur.tune.synth import MakeOptions, make_set

ANSWER = "1. Comment réparer une crevaison ?\n2) Quelle rustine utiliser pour la roue ?\n- ok"


def _first_words(prompt: str) -> str:
    body = prompt.split("---\n", 1)[1].split("\n---", 1)[0]
    words = [w.strip(".,") for w in body.split()]
    return f"{' '.join(words[:6])} ?"


def ollama_chat_stub() -> StubServer:
    def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
        if path != "/api/chat":
            return 404, {"error": "404 page not found"}
        if p.get("model") != "qwen3:4b":
            return 404, {"error": f'model "{p.get("model")}" not found, try pulling it first'}
        assert p["stream"] is False and p["messages"][0]["role"] == "user"
        content = f"<think>hmm</think>\n{ANSWER}\n{_first_words(p['messages'][0]['content'])}"
        return 200, {"model": p["model"], "created_at": "2025-01-01T00:00:00Z",
                     "message": {"role": "assistant", "content": content}, "done": True}

    return StubServer(route)


def openai_chat_stub(api_key: str) -> StubServer:
    def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error"}}
        if h.get("Authorization") != f"Bearer {api_key}":
            return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
        return 200, {"id": "chatcmpl-1", "object": "chat.completion", "model": p["model"],
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": ANSWER}}]}

    return StubServer(route)


def test_parse_questions():
    assert parse_questions(ANSWER) == ["Comment réparer une crevaison ?", "Quelle rustine utiliser pour la roue ?"]


def test_ollama_questions_join_the_set(tiny_index, monkeypatch):
    with ollama_chat_stub() as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        chat = chat_model("ollama:qwen3:4b")
        store = open_store(tiny_index)
        s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=40, llm=chat, sms_share=0))
        store.close()
        llm = [q for q in s.queries if q.kind == "llm"]
        # questions that share no word with their source are dropped by the filter; these share some
        assert llm and all(q.doc_id in s.corpus for q in llm)
        assert srv.requests and "questions" in srv.requests[0]["payload"]["messages"][0]["content"]
        with pytest.raises(LLMError, match="not found"):
            chat_model("ollama:missing").questions("texte", 2, "fr")


def test_openai_chat_with_key(monkeypatch):
    with openai_chat_stub("sk-test") as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        chat = chat_model(f"openai:{srv.url}", "llama")
        assert chat.questions("Le vélo a crevé.", 2, "fr") == parse_questions(ANSWER)
        assert srv.requests[0]["payload"]["model"] == "llama"
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(LLMError, match="Incorrect API key"):
            chat.questions("x", 1, "en")


def test_server_down_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    with pytest.raises(LLMError, match="no server"):
        chat_model("ollama:x").questions("texte", 1, "fr")
    with pytest.raises(LLMError, match="unknown LLM"):
        chat_model("gpt")
