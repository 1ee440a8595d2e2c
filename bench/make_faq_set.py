"""A French FAQ retrieval set from the Debian FAQ in French (Debian package ``debian-faq-fr``).

Each question of the FAQ is a query; its answer (the section's body, without the question) is the one
relevant document. Cross-references that quote another section's question ("Section 12.1, « Quelles
autres documentations… »") keep only the section number, so that no question appears word for word in
the corpus. The document title is the chapter's title, as a reader splitting the FAQ by section would get.

    apt-get download debian-faq-fr            # debian-faq-fr_11.1_all.deb (no root needed)
    python bench/make_faq_set.py debian-faq-fr_11.1_all.deb bench/data/debian-faq-fr

The input is the ``.deb`` or the plain-text FAQ it holds (``debian-faq.fr.txt[.gz]``). Licence: the
FAQ's permission notice (verbatim and modified copies allowed with the notice), written beside the set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import tempfile
from pathlib import Path

TXT = "usr/share/doc/debian/FAQ/debian-faq.fr.txt.gz"
CHAPTER = re.compile(r"^Chapitre\s+(\d+)\.\s+(.*)$")
SECTION = re.compile(r"^(\d+)\.(\d+)\.\s+(.*)$")
XREF = re.compile(r"(Section\s+\d+(?:\.\d+)*),\s*«[^»]*»", re.S)


def faq_text(path: Path) -> str:
    if path.suffix == ".deb":
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(path), tmp], check=True)
            return gzip.decompress((Path(tmp) / TXT).read_bytes()).decode("utf-8")
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _clean(lines: list[str]) -> str:
    text = "\n".join(line.strip() for line in lines).replace("\u00a0", " ")
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return XREF.sub(r"\1", "\n\n".join(p for p in paras if p))


def sections(text: str) -> list[dict[str, str]]:
    """(number, chapter title, question, answer) of every section after the table of contents."""
    lines = text.replace("\u00a0", " ").splitlines()
    start = next(i for i, line in enumerate(lines) if CHAPTER.match(line))
    out: list[dict[str, str]] = []
    chapter, i = "", start
    while i < len(lines):
        m, s = CHAPTER.match(lines[i]), SECTION.match(lines[i])
        if m:
            chapter, i = m.group(2).strip(), i + 1
            continue
        if s:
            head = [s.group(3)]
            i += 1
            while i < len(lines) and lines[i].strip():  # a question wraps onto following lines
                head.append(lines[i].strip())
                i += 1
            body: list[str] = []
            while i < len(lines) and not (CHAPTER.match(lines[i]) or SECTION.match(lines[i])):
                body.append(lines[i])
                i += 1
            out.append({"number": f"{s.group(1)}.{s.group(2)}", "chapter": chapter,
                        "question": " ".join(" ".join(head).split()), "answer": _clean(body)})
            continue
        i += 1
    return out


NOTICE = """# Licence of this set

Derived from the Debian FAQ in French (Debian package `debian-faq-fr` 11.1, "La FAQ Debian GNU/Linux",
version 11.0, January 2021): the questions became queries, the answers documents.

Copyright © 1996-2021 Software in the Public Interest

Il est permis de produire et distribuer des copies conformes de ce document à condition que la présente
notice de copyright et la présente notice de permission soient préservées sur toutes les copies.

Il est permis de copier et distribuer des versions modifiées de ce document selon les conditions d'une copie
conforme, à condition que le travail dérivé résultant soit entièrement distribué selon les termes d'une
notice de permission identique à celle-ci.

Il est permis de copier et distribuer des traductions de ce document dans d'autres langues, selon les
conditions pour versions modifiées ci-dessus, sauf que cette notice de permission peut être incluse sous
forme d'une traduction approuvée par la Free Software Foundation à la place de l'Anglais original.
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path, help="debian-faq-fr_*.deb or debian-faq.fr.txt[.gz]")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    secs = [s for s in sections(faq_text(args.source)) if s["answer"]]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as c, \
            open(args.out / "queries.jsonl", "w", encoding="utf-8") as q, \
            open(args.out / "qrels.tsv", "w", encoding="utf-8") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for s in secs:
            doc, qid = f"faq-{s['number']}", f"q-{s['number']}"
            c.write(json.dumps({"id": doc, "title": s["chapter"], "text": s["answer"]}, ensure_ascii=False) + "\n")
            q.write(json.dumps({"id": qid, "text": s["question"]}, ensure_ascii=False) + "\n")
            r.write(f"{qid}\t{doc}\t1\n")
    (args.out / "LICENSE.md").write_text(NOTICE, encoding="utf-8")
    print(f"{len(secs)} questions -> {args.out}")


if __name__ == "__main__":
    main()
