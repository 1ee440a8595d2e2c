"""Message exports (CSV/JSON from phone or chat extraction tools): one segment per message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_paths import SAMPLES

from pisteur.ingest import discover, read
from pisteur.ingest.messages_common import map_columns, normalise_date
from pisteur.types import KIND_MESSAGE, SkipFile


def test_sample_sms_export_french_headers() -> None:
    path = SAMPLES / "docs" / "sms_export.csv"
    result = read(path, "csv")
    segs = result.segments
    assert len(segs) == 16 and all(s.kind == KIND_MESSAGE for s in segs)
    threat = next(s for s in segs if "je sais où tu habites" in s.text)
    assert threat.text == "tu vas regretter, je sais où tu habites"
    assert threat.meta["sender"] == "Kevin" and threat.meta["recipient"] == "Julien"
    assert threat.meta["conversation"] == "Julien-Kevin"
    assert threat.meta["ts_first"] == threat.meta["ts_last"] == "2024-03-08T23:04:00"
    assert threat.meta["date"] == "08/03/2024 23:04"
    lines = path.read_text(encoding="utf-8").splitlines()
    for seg in segs:  # line numbers point at the row in the file
        assert lines[seg.line_start - 1].endswith(seg.text)
        assert seg.meta["row"] == seg.line_start - 1


def test_english_comma_csv_multiline_and_epoch(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    path.write_text(
        "Thread ID,From,To,Timestamp,Body\n"
        't1,+33600000001,+33600000002,2024-03-08T23:04:00Z,"see you at 8"\n'
        't1,+33600000002,+33600000001,1709939100000,"ok\nwith a second line"\n'
        "t2,+33600000003,+33600000001,not a date,\n"
        "t2,+33600000003,+33600000001,,last one\n",
        encoding="utf-8",
    )
    segs = read(path, "csv").segments
    assert [s.text for s in segs] == ["see you at 8", "ok\nwith a second line", "last one"]
    assert segs[0].meta["ts_first"] == "2024-03-08T23:04:00+00:00" and segs[0].meta["conversation"] == "t1"
    assert segs[1].meta["ts_first"] == "2024-03-08T23:05:00+00:00"
    assert (segs[1].line_start, segs[1].line_end) == (3, 4)  # a quoted newline spans two lines
    assert (segs[2].line_start, segs[2].meta["ts_first"]) == (6, None)


def test_tab_and_cp1252_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = ["Horodatage\tAuteur\tDestinataire\tContenu", "12/03/2024 14:10\tKévin\tJulien\tt'es où ? rdv à 14h"]
    path.write_bytes("\r\n".join(rows).encode("cp1252"))
    (seg,) = read(path, "csv").segments
    assert seg.text == "t'es où ? rdv à 14h" and seg.meta["sender"] == "Kévin"
    assert seg.meta["ts_first"] == "2024-03-12T14:10:00"


def test_csv_without_text_column_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "sigles.csv"
    path.write_text("id,term,definition\n1,GAV,garde à vue\n", encoding="utf-8")
    with pytest.raises(SkipFile, match=r"no text/message column \(columns: id, term, definition\)"):
        read(path, "csv")


def test_json_exports(tmp_path: Path) -> None:
    messages = [
        {"from": {"name": "Kevin", "phone": "+33600000003"}, "to": "Julien", "date": "10/03/2024 02:03",
         "text": "la prochaine fois la police sera pas là pour toi", "thread": "Julien-Kevin"},
        {"from": "Julien", "to": "Karim", "date": "2024-03-11T08:35:00", "text": "oui rdv 14h"},
        {"from": "Julien", "to": "Karim", "date": "2024-03-11T08:36:00", "text": ""},
    ]  # fmt: skip
    wrapped = tmp_path / "sms.json"
    wrapped.write_text(json.dumps({"device": "x", "messages": messages}), encoding="utf-8")
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(messages), encoding="utf-8")
    for path in (wrapped, as_list):
        found, skipped = discover([path])
        assert found == [(path, "json")] and not skipped
        segs = read(path, "json").segments
        assert [s.text for s in segs] == [messages[0]["text"], "oui rdv 14h"]
        assert segs[0].meta["sender"] == "Kevin" and segs[0].meta["conversation"] == "Julien-Kevin"
        assert segs[0].meta["ts_first"] == "2024-03-10T02:03:00"
        assert (segs[1].line_start, segs[1].meta["row"]) == (2, 2)


def test_json_that_is_not_an_export(tmp_path: Path) -> None:
    config = tmp_path / "package.json"
    config.write_text(json.dumps({"name": "x", "version": "1.0", "dependencies": {"a": "1"}}))
    found, skipped = discover([tmp_path])
    assert found == [] and skipped[0][0] == config and "not a message export" in skipped[0][1]
    with pytest.raises(SkipFile, match="not a message export"):
        read(config, "json")
    records = tmp_path / "records.json"  # a list of objects, but no text-like field
    records.write_text(json.dumps([{"id": 1, "content_type": "x"}]))
    with pytest.raises(SkipFile, match="fields: id, content_type"):
        read(records, "json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"text": "coupé')
    with pytest.raises(SkipFile, match="invalid JSON"):
        read(broken, "json")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("08/03/2024 23:04", "2024-03-08T23:04:00"),
        ("08/03/2024 23:04:05", "2024-03-08T23:04:05"),
        ("8.3.2024", "2024-03-08T00:00:00"),
        ("2024-03-08 23:04:00", "2024-03-08T23:04:00"),
        ("2024-03-08T23:04:00Z", "2024-03-08T23:04:00+00:00"),
        (1709939040, "2024-03-08T23:04:00+00:00"),
        ("1709939040000", "2024-03-08T23:04:00+00:00"),
        ("hier soir", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_date(value, expected) -> None:
    assert normalise_date(value) == expected


def test_column_names_french_and_english() -> None:
    cols = map_columns(["N°", "Date d'envoi (UTC)", "Expéditeur", "Destinataire(s)", "Texte du message"])
    assert cols == {"text": "Texte du message", "sender": "Expéditeur", "recipient": "Destinataire(s)",
                    "date": "Date d'envoi (UTC)"}  # fmt: skip
    assert map_columns(["From", "To", "Body", "Thread"])["conversation"] == "Thread"
    assert map_columns(["Message ID", "Message"])["text"] == "Message"
    assert "text" not in map_columns(["Message ID", "content_type", "Nb messages"])


def test_telegram_style_export(tmp_path: Path) -> None:
    """Several conversations, rich text as a list of strings and entities (Telegram Desktop's result.json)."""
    export = {
        "about": "export",
        "chats": {"list": [
            {"name": "Kevin D.", "type": "personal_chat", "id": 42, "messages": [
                {"id": 1, "type": "message", "date": "2024-03-08T23:04:00", "from": "Kevin D.",
                 "text": ["tu vas ", {"type": "bold", "text": "regretter"}, ", je sais où tu habites"]},
                {"id": 2, "type": "service", "date": "2024-03-08T23:05:00", "actor": "Kevin D.", "text": ""},
            ]},
            {"name": "Karim", "type": "personal_chat", "id": 43, "messages": [
                {"id": 3, "type": "message", "date": "2024-03-11T08:35:00", "from": "Julien", "text": "rdv 14h"},
            ]},
        ]},
    }  # fmt: skip
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    segs = read(path, "json").segments
    assert [(s.text, s.meta["conversation"], s.meta["sender"]) for s in segs] == [
        ("tu vas regretter, je sais où tu habites", "Kevin D.", "Kevin D."),
        ("rdv 14h", "Karim", "Julien"),
    ]
    assert segs[1].meta["ts_first"] == "2024-03-11T08:35:00"


def test_whatsapp_text_exports(tmp_path: Path) -> None:
    android = tmp_path / "Discussion WhatsApp avec Kevin.txt"
    android.write_text(
        "08/03/2024 22:59 - Les messages et les appels sont chiffrés de bout en bout. Appuyez pour en savoir plus.\n"
        "08/03/2024 23:04 - Kevin: tu vas regretter\n"
        "je sais où tu habites\n"
        "08/03/2024 23:05 - Julien: <Médias omis>\n"
        "08/03/2024 23:06 - Julien: laisse moi tranquille stp\n",
        encoding="utf-8",
    )
    segs = read(android, "text").segments
    assert [(s.kind, s.text, s.meta["sender"], s.line_start, s.line_end) for s in segs] == [
        (KIND_MESSAGE, "tu vas regretter\nje sais où tu habites", "Kevin", 2, 3),
        (KIND_MESSAGE, "laisse moi tranquille stp", "Julien", 5, 5),
    ]
    assert segs[0].meta["ts_first"] == "2024-03-08T23:04:00"
    assert segs[0].meta["conversation"] == "Discussion WhatsApp avec Kevin"

    ios = tmp_path / "_chat.txt"
    ios.write_text(
        "[10/03/2024 02:03:11] Kevin: la prochaine fois la police sera pas là pour toi\n"
        "[10/03/2024 02:04:00] Kevin: tkt\n"
        "[10/03/2024 08:12:45] Julien: jsp quoi faire, jvais porter plainte\n",
        encoding="utf-8",
    )
    segs = read(ios, "text").segments
    assert [s.meta["sender"] for s in segs] == ["Kevin", "Kevin", "Julien"]
    assert segs[2].meta["ts_first"] == "2024-03-10T08:12:45"

    english = tmp_path / "chat_en.txt"
    english.write_text("3/8/24, 11:04 PM - Kevin: you'll regret it\n3/8/24, 11:05 PM - Kevin: ok\n"
                       "3/9/24, 1:20 AM - Julien: stop\n", encoding="utf-8")  # fmt: skip
    segs = read(english, "text").segments
    assert [s.meta["ts_first"] for s in segs] == ["2024-03-08T23:04:00", "2024-03-08T23:05:00", "2024-03-09T01:20:00"]

    prose = tmp_path / "pv.txt"  # a document mentioning dates is not a chat
    prose.write_text("Le 08/03/2024 à 23:04, M. X a reçu un SMS.\nIl nous le montre.\nFin.\n", encoding="utf-8")
    assert read(prose, "text").segments[0].kind == "document"


def test_csv_with_a_title_block_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "rapport_extraction.csv"
    path.write_text(
        "Rapport d'extraction - téléphone de M. X\n"
        "Généré le 12/03/2024\n"
        "\n"
        "N°;Horodatage;De;À;Message\n"
        "1;08/03/2024 23:04;Kevin;Julien;tu vas regretter\n"
        "2;08/03/2024 23:06;Kevin;Julien;je vais te retrouver\n",
        encoding="utf-8",
    )
    segs = read(path, "csv").segments
    assert [(s.text, s.meta["sender"], s.meta["recipient"], s.line_start) for s in segs] == [
        ("tu vas regretter", "Kevin", "Julien", 5),
        ("je vais te retrouver", "Kevin", "Julien", 6),
    ]


def test_json_with_text_but_no_sender_nor_date_is_not_messages(tmp_path: Path) -> None:
    todos = tmp_path / "todos.json"  # e.g. ~/.claude/todos/*.json
    todos.write_text(json.dumps([{"content": "écrire les tests", "status": "pending", "id": "1"}]))
    with pytest.raises(SkipFile, match="no sender or date field"):
        read(todos, "json")
