"""Secret redaction: recall on the synthetic labelled corpus, no redaction of look-alikes, reader defaults."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.ingest import read, redaction_policy, redacts
from pisteur.ingest.redact import entropy, find, redact

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures" / "secrets"))
from make_corpus import NEGATIVES, corpus  # noqa: E402


def test_recall_on_the_labelled_corpus_is_at_least_95_percent() -> None:
    total = removed = 0
    for text, labels in corpus():
        out = redact(text)
        for kind, value in labels:
            total += 1
            removed += value not in out.text and f"[REDACTED:{kind}]" in out.text
    assert total > 500
    assert removed / total >= 0.95


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_redacted(text: str) -> None:
    assert find(text) == [], text


def test_redaction_keeps_the_kind_and_the_context() -> None:
    key = "AKIA" + "Q" * 8 + "7" * 8
    out = redact(f"aws configure: key {key} region eu-west-3")
    assert out.text == "aws configure: key [REDACTED:aws-access-key] region eu-west-3"
    assert out.kinds == {"aws-access-key": 1}
    url = redact("DATABASE_URL=postgres://app:S3cr3t-Pw9x@db:5432/app")
    assert url.text == "DATABASE_URL=postgres://app:[REDACTED:password-in-url]@db:5432/app"


def test_offsets_follow_the_redaction() -> None:
    token = "ghp_" + "a1B2" * 9
    text = f"avant {token} après"
    out = redact(text)
    assert out.text[out.offset(text.index("après")) :] == "après"
    assert out.offset(text.index(token) + 5) == out.text.index("[REDACTED")
    assert out.offset(2) == 2


def test_entropy() -> None:
    assert entropy("aaaa") == 0.0 and entropy("abcd") == 2.0


def session_line(uuid: str, role: str, text: str) -> str:
    if role == "user":
        return json.dumps({"type": "user", "uuid": uuid, "message": {"role": "user", "content": text}}) + "\n"
    content = [{"type": "text", "text": text}]
    return json.dumps({"type": "assistant", "uuid": uuid, "message": {"content": content}}) + "\n"


def test_sessions_are_redacted_by_default_case_files_are_not(tmp_path: Path) -> None:
    token = "ghp_" + "Zx9Y" * 9
    session = tmp_path / "s.jsonl"
    filler = " ".join(["mot"] * 60)
    session.write_text(session_line("u1", "user", f"{filler} mon jeton est {token}")
                       + session_line("a1", "assistant", filler + " réponse finale"))
    seg = read(session, "claude").segments[0]
    assert token not in seg.text and "[REDACTED:github-token]" in seg.text
    # the anchors still point at the right records: the last chunk belongs to the assistant's reply
    chunks = chunk_segments([seg], ChunkerConfig(size=40, overlap=0), lambda t: len(t.split()) + 2)
    assert chunks[-1].meta["uuids"] == ["a1"] and chunks[0].meta["uuids"][0] == "u1"
    assert token in read(session, "claude", redact=False).segments[0].text

    pv = tmp_path / "pv.txt"
    pv.write_text(f"Le mis en cause a fourni le mot de passe de son compte : {token}\n")
    assert token in read(pv, "text").segments[0].text
    assert token not in read(pv, "text", redact=True).segments[0].text


def test_policy_says_which_readers_redact() -> None:
    assert redacts("claude") and not redacts("text") and redacts("text", True) and not redacts("claude", False)
    assert redaction_policy().to_manifest()["readers"] == ["claude"]
    assert redaction_policy(True).mode == "on" and redaction_policy(False).readers == ()


def test_the_index_records_its_redaction_policy_and_keeps_it(tmp_path: Path) -> None:
    from helpers import HashEmbedder

    from pisteur.indexer import index_paths
    from pisteur.store import manifest as mf
    from pisteur.store import open_store

    token = "ghp_" + "Qw7E" * 9
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pv.txt").write_text(f"Mot de passe saisi sur le téléphone : {token}\n", encoding="utf-8")
    idx = tmp_path / "idx"
    index_paths(idx, [docs], embedder=HashEmbedder(dims=32), redact=True)
    store = open_store(idx)
    assert store.manifest()["redaction"]["mode"] == "on"
    assert all(token not in h.text for h in store.iter_chunks())
    store.close()
    (docs / "note.txt").write_text(f"Second jeton : {token}\n", encoding="utf-8")
    index_paths(idx, [docs], embedder=HashEmbedder(dims=32))  # a plain run keeps the index's policy
    store = open_store(idx)
    assert all(token not in h.text for h in store.iter_chunks()) and len(list(store.iter_chunks())) == 2
    store.close()
    with pytest.raises(mf.ManifestMismatch, match="redaction"):
        index_paths(idx, [docs], embedder=HashEmbedder(dims=32), redact=False)
