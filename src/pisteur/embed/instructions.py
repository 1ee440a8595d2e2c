"""Query instructions and document prefixes, per model, from the catalogue.

Asymmetric models want different text on each side: e5 ``query: ``/``passage: ``, nomic
``search_query: ``/``search_document: ``, Solon ``query : `` on queries only, and instruction-aware models
(Qwen3-Embedding, e5-instruct, gte-Qwen2) a task instruction on queries only:
``Instruct: {task}\\nQuery:{query}``. Forgetting it degrades results without any error, so every backend
goes through :func:`prompting_for` and reports the result in ``describe()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pisteur.embed.base import EmbedderError
from pisteur.models.catalog import ModelInfo

GENERIC_TEMPLATE = "Instruct: {task}\nQuery:{query}"


@dataclass(frozen=True)
class Prompting:
    query_prefix: str = ""
    document_prefix: str = ""
    query_template: str = ""  # with {task} and {query}; wins over query_prefix
    task: str = ""
    eos: str = ""  # appended by backends that tokenise themselves (last-token pooling)

    def query(self, text: str) -> str:
        if self.query_template:
            return self.query_template.replace("{task}", self.task).replace("{query}", text)
        return self.query_prefix + text

    def document(self, text: str) -> str:
        return self.document_prefix + text

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
            "instruction": "",  # the manifest compares it: a changed instruction means a changed index
        }
        if self.query_template:
            d["query_instruction"] = d["instruction"] = self.query_template.replace("{task}", self.task)
            d["query_template"] = self.query_template
            d["task"] = self.task
            d["query_prefix"] = self.query_template.replace("{task}", self.task).split("{query}")[0]
        return d


def prompting_for(
    info: ModelInfo | None,
    instruction: str | None = None,
    query_prefix: str | None = None,
    document_prefix: str | None = None,
) -> Prompting:
    """The prompting of a model, with the caller's overrides.

    ``instruction``: a task description (``"Retrouver les SMS qui..."``) put into the model's template, or a
    full template if it contains ``{query}``. A model that takes no instruction refuses it (use
    ``query_prefix``); a model unknown to the catalogue gets the generic Qwen-style template.
    ``query_prefix``/``document_prefix``: literal prefixes replacing the catalogue's ("" removes them).
    """
    qp = info.query_prefix if info else ""
    dp = info.document_prefix if info else ""
    template = info.query_template if info else ""
    task = info.default_task if info else ""
    eos = info.eos if info else ""
    if instruction:
        if "{query}" in instruction:
            template, task = instruction, ""
        elif template:
            task = instruction
        elif info is None:
            template, task = GENERIC_TEMPLATE, instruction
        else:
            raise EmbedderError(
                f"{info.name} takes no query instruction; pass query_prefix= for a plain prefix instead"
            )
    if query_prefix is not None:
        template, qp = "", query_prefix
    if document_prefix is not None:
        dp = document_prefix
    return Prompting(query_prefix=qp, document_prefix=dp, query_template=template, task=task, eos=eos)
