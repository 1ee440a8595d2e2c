"""Document readers (txt/md/html/eml/pdf/docx) and their bad inputs; binary fixtures built in tmp_path."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from ingest_paths import SAMPLES

from pisteur.ingest import discover, read
from pisteur.types import KIND_DOCUMENT, SkipFile


def doc(path: Path) -> str:
    found, skipped = discover([path])
    assert not skipped, skipped
    return found[0][1]


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "pv.txt"
    text = "PROCÈS-VERBAL D'AUDITION\r\nLe témoin déclare : « je l'ai vu à 23h ».\r\nCoût : 15 € — fin.\r\n"
    path.write_bytes(text.encode("cp1252"))
    result = read(path, doc(path))
    (seg,) = result.segments
    assert seg.kind == KIND_DOCUMENT and seg.meta["encoding"] == "cp1252"
    assert seg.text == text.replace("\r\n", "\n").strip()
    assert (seg.line_start, seg.line_end) == (1, 3)


def test_latin1_and_bom(tmp_path: Path) -> None:
    latin = tmp_path / "a.txt"
    latin.write_bytes("Garde à vue prolongée, réquisition du procureur.".encode("latin-1"))
    assert read(latin, "text").segments[0].text == "Garde à vue prolongée, réquisition du procureur."
    bom = tmp_path / "b.txt"
    bom.write_bytes("\ufeffNote établie par l'OPJ.".encode())
    seg = read(bom, "text").segments[0]
    assert seg.text == "Note établie par l'OPJ." and seg.meta["encoding"] == "utf-8-sig"
    utf16 = tmp_path / "c.txt"
    utf16.write_bytes("Procès-verbal n° 12".encode("utf-16"))
    assert read(utf16, "text").segments[0].text == "Procès-verbal n° 12"


def test_text_line_numbers_follow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    paragraphs = [f"Paragraphe {i} : " + "mot " * 400 for i in range(12)]
    path.write_text("\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    lines = path.read_text(encoding="utf-8").split("\n")
    segs = read(path, "text").segments
    assert len(segs) > 1  # big files come as several big segments, cut at blank lines
    for seg in segs:
        assert seg.text == "\n".join(lines[seg.line_start - 1 : seg.line_end])
    assert "".join(s.text for s in segs).count("Paragraphe") == 12


def test_markdown_sections(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "# Note de synthèse\n\nIntro.\n\n## Faits\n\nMenaces par SMS.\n\n```bash\n# pas un titre\nls\n```\n\n"
        "## Suites\n\nConvocation.\n",
        encoding="utf-8",
    )
    segs = read(path, "text").segments
    assert [s.meta["section"] for s in segs] == ["Note de synthèse", "Faits", "Suites"]
    assert all(s.meta["title"] == "Note de synthèse" for s in segs)
    assert "# pas un titre" in segs[1].text  # a comment in a code block is not a heading
    assert (segs[2].line_start, segs[2].line_end) == (14, 16)


@pytest.mark.parametrize("content", [b"", b"   \n\n  \t\n"])
def test_empty_text_is_skipped(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "vide.txt"
    path.write_bytes(content)
    with pytest.raises(SkipFile, match="empty"):
        read(path, "text")


def test_binary_junk_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    with pytest.raises(SkipFile, match="binary"):
        read(path, "text")


def test_html_drops_scripts_keeps_title(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(
        b'<html><head><meta charset="iso-8859-1"><title>Communiqu\xe9 de presse</title>'
        b"<style>p{color:red}</style><script>var secret = 'x';</script></head>"
        b"<body><h1>Pr\xe9vention</h1><p>Ne r&eacute;pondez pas aux menaces.</p>"
        b"<table><tr><td>GAV</td><td>garde &agrave; vue</td></tr></table></body></html>"
    )
    (seg,) = read(path, "html").segments
    assert seg.meta["title"] == "Communiqué de presse"
    assert "Prévention" in seg.text and "Ne répondez pas aux menaces." in seg.text
    assert "GAV | garde à vue" in seg.text
    assert "secret" not in seg.text and "color" not in seg.text


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "vide.html"
    path.write_text("<html><head><script>alert(1)</script></head><body><img src=x></body></html>")
    with pytest.raises(SkipFile, match="without visible text"):
        read(path, "html")


def test_eml_headers_body_and_attachment_ignored(tmp_path: Path) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Sonia Leroy <sonia@example.org>"
    msg["To"] = "brigade@example.gouv.fr"
    msg["Subject"] = "Menaces reçues cette nuit"
    msg["Date"] = "Sun, 10 Mar 2024 08:12:45 +0100"
    msg.set_content("Bonjour,\nil a encore écrit à 2h du matin.\n")
    msg.add_alternative("<p>Bonjour,<br>il a encore <b>écrit</b> à 2h du matin.</p>", subtype="html")
    msg.add_attachment(b"PIECE-JOINTE-SECRETE", maintype="application", subtype="octet-stream", filename="a.bin")
    path = tmp_path / "m.eml"
    path.write_bytes(msg.as_bytes())
    (seg,) = read(path, "eml").segments
    assert seg.meta["title"] == "Menaces reçues cette nuit"
    assert seg.meta["ts_first"] == seg.meta["ts_last"] == "2024-03-10T08:12:45+01:00"
    assert seg.meta["sender"] == "Sonia Leroy <sonia@example.org>"
    assert "il a encore écrit à 2h du matin." in seg.text and seg.text.startswith("Objet : Menaces")
    assert "SECRETE" not in seg.text and "<p>" not in seg.text


def test_eml_html_only_body(tmp_path: Path) -> None:
    path = tmp_path / "h.eml"
    path.write_bytes(
        b"From: a@b.fr\r\nSubject: =?iso-8859-1?q?R=E9quisition?=\r\n"
        b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
        b"<html><body><p>R\xe9sultats de la r\xe9quisition op\xe9rateur.</p><script>x()</script></body></html>"
    )
    (seg,) = read(path, "eml").segments
    assert seg.meta["title"] == "Réquisition" and seg.meta["ts_first"] is None
    assert "Résultats de la réquisition opérateur." in seg.text and "x()" not in seg.text


def test_pdf_pages(tmp_path: Path, make_samples) -> None:
    path = tmp_path / "r.pdf"
    pages = [["Page un : garde à vue."], [], ["Page trois : réquisition."]]
    path.write_bytes(make_samples.minimal_pdf(pages, "Rapport"))
    segs = read(path, doc(path)).segments
    assert [(s.meta["page"], s.meta["title"]) for s in segs] == [(1, "Rapport"), (3, "Rapport")]
    assert segs[0].text == "Page un : garde à vue." and "réquisition" in segs[1].text


def test_encrypted_pdf(tmp_path: Path, make_samples) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = make_samples.minimal_pdf([["Contenu confidentiel de la procédure."]])
    # RC4 is decrypted by pypdf alone; AES needs the optional `cryptography` package: either way a PDF
    # that needs a password is skipped with a reason, never a crash.
    for user_pw, ok, algorithm in (("secret", False, "AES-128"), ("secret", False, "RC4-128"), ("", True, "RC4-128")):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
        writer.encrypt(user_password=user_pw, owner_password="owner", algorithm=algorithm)
        path = tmp_path / f"enc-{ok}-{algorithm}.pdf"
        with path.open("wb") as fh:
            writer.write(fh)
        if ok:  # empty user password: readable by anyone, so indexed
            assert read(path, "pdf").segments[0].text == "Contenu confidentiel de la procédure."
        else:
            with pytest.raises(SkipFile, match="encrypted PDF"):
                read(path, "pdf")


def test_image_only_and_corrupt_pdf(tmp_path: Path, make_samples) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_samples.minimal_pdf([[], []]))
    with pytest.raises(SkipFile, match="image-only PDF"):
        read(scan, "pdf")
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    with pytest.raises(SkipFile):
        read(junk, "pdf")
    fake = tmp_path / "fake.pdf"
    fake.write_text("ceci n'est pas un PDF")
    with pytest.raises(SkipFile, match="not a PDF"):
        read(fake, "pdf")


def test_docx_paragraphs_and_tables(tmp_path: Path, make_samples) -> None:
    path = tmp_path / "cr.docx"
    make_samples.make_docx(path, make_samples.DOCX_PARAGRAPHS, make_samples.DOCX_TABLE)
    segs = read(path, doc(path)).segments
    assert all(s.meta["title"] == "Compte rendu d'intervention" for s in segs)
    text = "\n".join(s.text for s in segs)
    assert "différend de voisinage" in text
    assert "Mis en cause | M. Kevin DUBREUIL | Parti avant l'arrivée de l'OPJ" in text
    assert segs[-1].meta["section"] == "Personnes présentes"


def test_corrupt_docx(tmp_path: Path, make_samples) -> None:
    good = tmp_path / "ok.docx"
    make_samples.make_docx(good, make_samples.DOCX_PARAGRAPHS, [])
    data = good.read_bytes()
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SkipFile, match="docx"):
        read(truncated, "docx")
    not_zip = tmp_path / "renamed.docx"
    not_zip.write_bytes(b"{\\rtf1 ceci est du RTF renomme}")
    with pytest.raises(SkipFile, match="not a .docx"):
        read(not_zip, "docx")
    no_document = tmp_path / "nodoc.docx"  # a valid ZIP without word/document.xml
    with zipfile.ZipFile(no_document, "w") as zf:
        zf.writestr("hello.txt", "bonjour")
    with pytest.raises(SkipFile, match="docx"):
        read(no_document, "docx")


def test_bundled_samples_all_read(tmp_path: Path, make_samples) -> None:
    found, skipped = discover([SAMPLES])
    assert not skipped
    names = {p.name: r for p, r in found}
    for expected in ("pv_audition_temoin.txt", "note_synthese.md", "signalement.eml", "sms_export.csv",
                     "communique.html", "compte_rendu_intervention.docx", "rapport_exploitation_telephonique.pdf",
                     "agent-aac57f5.jsonl"):  # fmt: skip
        assert expected in names
    for path, reader in found:
        assert read(path, reader).segments or path.name.startswith("agent-acompact"), path
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 1_000_000
    make_samples.main(tmp_path)  # the generator runs and produces readable files
    assert "témoin" in read(tmp_path / "pv_audition_temoin.txt", "text").segments[0].text
    assert read(tmp_path / "rapport_exploitation_telephonique.pdf", "pdf").segments[0].meta["page"] == 1


def test_eml_without_headers_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.eml"
    path.write_text("juste du texte, sans en-têtes\n\nni rien\n", encoding="utf-8")
    with pytest.raises(SkipFile, match="not an e-mail"):
        read(path, "eml")
