"""Questions written by a local chat model: Ollama ``/api/chat`` or an OpenAI-compatible
``/v1/chat/completions`` (llama.cpp server, vLLM, LM Studio...). Spec: ``ollama:MODEL`` (host from
``$OLLAMA_HOST``) or ``openai:URL`` with ``model`` (key from ``$PISTEUR_OPENAI_API_KEY`` then
``$OPENAI_API_KEY``; local servers need none)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from pisteur.embed.http_util import HTTPError, ServerDown, post_json
from pisteur.embed.ollama import ollama_base_url

PROMPT = {
    "fr": (
        "Voici un extrait de document.\n---\n{text}\n---\nÉcris {n} questions courtes et variées qu'un "
        "utilisateur pourrait poser à un moteur de recherche et auxquelles cet extrait répond. Reformule avec "
        "tes propres mots (évite de recopier les phrases). Une question par ligne, sans numéro."
    ),
    "en": (
        "Here is a document excerpt.\n---\n{text}\n---\nWrite {n} short, varied questions a user could type "
        "into a search engine that this excerpt answers. Use your own words (do not copy sentences). One "
        "question per line, no numbering."
    ),
}
MAX_CHARS = 2000


class LLMError(RuntimeError):
    pass


@dataclass
class ChatModel:
    kind: str  # "ollama" | "openai"
    url: str
    model: str
    timeout: float = 120.0

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.model}"

    def chat(self, prompt: str) -> str:
        msgs = [{"role": "user", "content": prompt}]
        try:
            if self.kind == "ollama":
                body = post_json(f"{self.url}/api/chat",
                                 {"model": self.model, "messages": msgs, "stream": False,
                                  "options": {"temperature": 0.7}}, timeout=self.timeout)
                return str(body["message"]["content"])
            headers = {}
            key = os.environ.get("PISTEUR_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
            if key:
                headers["Authorization"] = f"Bearer {key}"
            body = post_json(f"{self.url}/chat/completions",
                             {"model": self.model, "messages": msgs, "temperature": 0.7}, headers,
                             timeout=self.timeout)
            return str(body["choices"][0]["message"]["content"])
        except ServerDown as exc:
            raise LLMError(f"{self.name}: no server at {self.url} ({exc})") from exc
        except HTTPError as exc:
            raise LLMError(f"{self.name}: {exc}") from exc
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{self.name}: unexpected answer shape ({exc!r})") from exc

    def questions(self, text: str, n: int, lang: str) -> list[str]:
        answer = self.chat(PROMPT.get(lang, PROMPT["en"]).format(text=text[:MAX_CHARS], n=n))
        return parse_questions(answer)[:n]


def parse_questions(answer: str) -> list[str]:
    """One question per non-empty line, list markers and quotes stripped; reasoning blocks dropped."""
    answer = re.sub(r"<think>.*?</think>", "", answer, flags=re.S)
    out = []
    for line in answer.splitlines():
        q = re.sub(r"^\s*(?:[-*•]|\d+[.)]|Q\d*[:.])\s*", "", line).strip().strip('"«»“”').strip()
        if 3 <= len(q.split()) <= 40:
            out.append(q)
    return list(dict.fromkeys(out))


def chat_model(spec: str, model: str | None = None) -> ChatModel:
    kind, _, rest = spec.partition(":")
    if kind == "ollama" and rest:
        return ChatModel("ollama", ollama_base_url(), rest)
    if kind == "openai" and rest:
        url = rest.rstrip("/")
        if not url.endswith("/v1"):
            url += "/v1"
        return ChatModel("openai", url, model or os.environ.get("PISTEUR_LLM_MODEL", "default"))
    raise LLMError(f"unknown LLM '{spec}' (ollama:MODEL or openai:URL)")
