"""Generate the binary / legacy-encoded sample documents of samples/docs (our own fictional text, CC0).

    python samples/make_samples.py            # rewrites samples/docs/{*.pdf,*.docx,pv_*.txt}

The PDF is written by hand (a minimal PDF 1.4 with Helvetica/WinAnsiEncoding text), so no PDF-writing
library is needed; the tests reuse :func:`minimal_pdf` to build PDFs in a temporary folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"

PV_AUDITION = """\
GENDARMERIE NATIONALE
Brigade de recherches de Valmont-sur-Loire (fictive)

PROCÈS-VERBAL D'AUDITION DE TÉMOIN
N° PV : 2024/0456 — Procédure : menaces de mort réitérées

L'an deux mille vingt-quatre, le douze mars à quatorze heures dix,
Nous, Claire MARCHAND, adjudante, officier de police judiciaire (OPJ) en résidence à Valmont-sur-Loire,
agissant en enquête préliminaire sur instructions de M. le procureur de la République,
entendons la personne ci-après dénommée, qui déclare :

« Je m'appelle Julien ROUSSEL, né le 3 avril 1991, livreur. Je connais M. Kevin DUBREUIL
depuis le collège. Depuis le mois de janvier il m'envoie des SMS la nuit. Le 8 mars vers 23h,
il m'a écrit qu'il allait "me retrouver" et que "je vais regretter". J'ai eu peur pour ma famille.
Il me reproche une dette de 300 euros que je conteste. Je n'ai jamais répondu à ses menaces.
Je remets aux enquêteurs les captures d'écran de mon téléphone. »

Question : Avez-vous déjà déposé plainte contre lui ?
Réponse : Non, c'est la première fois. Je souhaite déposer plainte aujourd'hui.

Question : Avez-vous des témoins des faits ?
Réponse : Ma compagne, Mme Sonia LEROY, a lu les messages le soir du 8 mars.

Lecture faite par lui-même, le témoin persiste et signe avec nous.
Fin de l'audition à quinze heures. La personne entendue n'a pas été placée en garde à vue (GAV).
"""

PDF_LINES = [
    "RAPPORT D'EXPLOITATION TÉLÉPHONIQUE (fictif)",
    "Procédure 2024/0456 — Brigade de recherches de Valmont-sur-Loire",
    "",
    "1. Objet : exploitation du téléphone remis par M. Julien ROUSSEL (témoin).",
    "2. Méthode : extraction logique, export CSV des SMS du 1er janvier au 12 mars 2024.",
    "3. Constatations : 214 SMS échangés avec le numéro attribué à M. Kevin DUBREUIL.",
    "   Onze messages contiennent des menaces ou des insultes, envoyés entre 22h et 2h.",
    "   Le message du 8 mars à 23h04 annonce : « tu vas regretter, je sais où tu habites ».",
    "4. Conclusion : les menaces sont réitérées et datées ; réquisition opérateur conseillée",
    "   pour confirmer l'attribution de la ligne (bornage non réalisé à ce stade).",
    "",
    "Fait à Valmont-sur-Loire, le 14 mars 2024. L'analyste criminel.",
]

DOCX_TITLE = "Compte rendu d'intervention"
DOCX_PARAGRAPHS = [
    ("Heading 1", DOCX_TITLE),
    (None, "Le 9 mars 2024 à 1h20, la patrouille est intervenue au 12 rue des Tanneurs à Valmont-sur-Loire "
           "pour un différend de voisinage signalé par le centre opérationnel (CORG)."),
    (None, "Sur place, les militaires constatent des cris et des insultes proférées depuis le palier. "
           "L'individu, calmé, quitte les lieux avant l'arrivée de l'OPJ. Aucun blessé."),
    ("Heading 2", "Personnes présentes"),
]  # fmt: skip
DOCX_TABLE = [
    ("Qualité", "Nom", "Observations"),
    ("Requérante", "Mme Sonia LEROY", "Signale des menaces répétées"),
    ("Mis en cause", "M. Kevin DUBREUIL", "Parti avant l'arrivée de l'OPJ"),
]


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def minimal_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF whose pages hold the given lines as real text (Helvetica, WinAnsiEncoding).

    A page given as an empty list has no text at all (what a scanned, image-only page looks like to a
    text extractor)."""
    objects: list[bytes] = []  # object n is objects[n - 1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages tree, filled below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for lines in pages:
        ops = [b"BT /F1 11 Tf 14 TL 56 790 Td"]
        ops += [_pdf_string(line) + b" Tj T*" for line in lines]
        ops.append(b"ET")
        stream = b"\n".join(ops) if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_no = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % content_no
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info_ref = b""
    if title:
        objects.append(b"<< /Title " + _pdf_string(title) + b" /Producer (pisteur samples) >>")
        info_ref = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info_ref, xref)
    return bytes(out)


def make_docx(path: Path, paragraphs: list[tuple[str | None, str]], table: list[tuple[str, ...]]) -> None:
    from docx import Document

    doc = Document()
    doc.core_properties.title = next((t for s, t in paragraphs if s == "Heading 1"), "")
    for style, text in paragraphs:
        if style and style.startswith("Heading"):
            doc.add_heading(text, level=int(style[-1]))
        else:
            doc.add_paragraph(text)
    if table:
        grid = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    doc.save(str(path))


def main(out: Path = DOCS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pv_audition_temoin.txt").write_bytes(PV_AUDITION.replace("\n", "\r\n").encode("cp1252"))
    (out / "rapport_exploitation_telephonique.pdf").write_bytes(
        minimal_pdf([PDF_LINES], title="Rapport d'exploitation téléphonique")
    )
    make_docx(out / "compte_rendu_intervention.docx", DOCX_PARAGRAPHS, DOCX_TABLE)
    print(f"wrote 3 files to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
