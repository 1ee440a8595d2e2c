"""A synthetic French SMS/chat export for the scale benchmark: hand-written templates, words replaced at random
by the SMS forms and acronyms of the product's shipped dictionaries. No real message is used.

The CSV is what phone extraction tools write and ``pisteur index`` reads (``pisteur.ingest.messages_csv``):
``;``-separated, a header row with French column names, one message per row.
"""

from __future__ import annotations

import csv
import random
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pisteur.retrieve import dictionaries as _dicts

DICT_DIR = Path(_dicts.__file__).resolve().parent
ROWS_PER_FILE = 100_000
HEADER = ("date", "expéditeur", "destinataire", "conversation", "message")

FIRST_NAMES = ("Karim", "Julie", "Mehdi", "Sandra", "Lucas", "Inès", "Thomas", "Nadia", "Kevin", "Laura", "Yanis",
               "Chloé", "Sofiane", "Manon", "Bilal", "Océane", "Jordan", "Sarah", "Rayan", "Camille")
PLACES = ("la gare", "le tabac", "chez Momo", "le parking du Leclerc", "la cité", "le kebab", "la plage",
          "le bar des sports", "la station Total", "le square", "chez ta mère", "le McDo")
TIMES = ("ce soir", "demain", "à 18h", "vers 22h", "dans 10 min", "lundi", "après le taf", "cet aprèm")
THINGS = ("le colis", "la voiture", "les clés", "le sac", "la marchandise", "le téléphone", "l'argent", "les papiers")
TEMPLATES = (
    "bonjour {name}, rendez-vous {time} à {place} d'accord ?",
    "salut, t'inquiète je ramène {thing} {time}",
    "désolé j'ai pas pu venir, on se voit {time} ?",
    "merci pour tout, bisous à demain",
    "tu es où ? je suis devant {place} depuis 20 minutes",
    "ok je t'appelle {time}, s'il te plaît réponds",
    "c'est bon pour {thing}, il faut passer {time} à {place}",
    "bonsoir, tu peux venir me chercher à {place} ?",
    "j'ai vu la {acr} devant {place}, fais gaffe",
    "{name} s'est fait contrôler par la {acr} {time}",
    "tu as reçu la convocation de la {acr} ?",
    "je sais pas quoi faire, la {acr} a appelé ma mère",
    "bon week-end, à plus",
    "d'accord, rendez-vous {time} devant {place}",
    "pourquoi tu réponds pas ? c'est important pour {thing}",
    "je suis en retard, désolé, j'arrive dans 5 minutes",
    "t'as {thing} ? {name} attend à {place}",
    "coucou ça va ? on fait quoi {time}",
    "laisse tomber pour {time}, {name} est pas là",
    "bonne nuit, je t'appelle demain matin",
)


def _load_toml(name: str) -> dict:
    with open(DICT_DIR / name, "rb") as fh:
        return tomllib.load(fh)


class Vocabulary:
    """Standard French form -> SMS variants (sms.toml) and acronyms with their expansions (acronyms.toml)."""

    def __init__(self) -> None:
        sms = _load_toml("sms.toml").get("synonyms", {})
        self.variants: dict[str, list[str]] = {k: list(v) for k, v in sms.items() if v}
        # Longest forms first, so "rendez-vous" is replaced before a shorter form it contains.
        keys = sorted(self.variants, key=len, reverse=True)
        self.pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in keys) + r")(?!\w)")
        acr = _load_toml("acronyms.toml").get("abbreviations", {})
        police = ("BAC", "PJ", "BRI", "CRS", "SRPJ", "BST", "PAF", "DGSI")  # forces one meets in a message
        self.acronyms = [(a, acr[a][0]) for a in police if a in acr and acr[a]] or [("BAC", "brigade anti-criminalité")]

    def smsify(self, text: str, rng: random.Random, p: float = 0.6) -> str:
        """Replace dictionary phrases by one of their SMS forms with probability ``p`` each."""

        def sub(m: re.Match[str]) -> str:
            return rng.choice(self.variants[m.group(1)]) if rng.random() < p else m.group(1)

        return self.pattern.sub(sub, text)

    def acronym(self, rng: random.Random) -> str:
        acr, expansion = rng.choice(self.acronyms)
        return acr if rng.random() < 0.7 else expansion


def message(vocab: Vocabulary, rng: random.Random) -> str:
    text = rng.choice(TEMPLATES).format(name=rng.choice(FIRST_NAMES), place=rng.choice(PLACES),
                                        time=rng.choice(TIMES), thing=rng.choice(THINGS), acr=vocab.acronym(rng))
    text = vocab.smsify(text, rng)
    if rng.random() < 0.3:
        text = text.lower().replace("?", " ?").replace(",", "")
    return text


def _phone(rng: random.Random) -> str:
    return "+336" + "".join(str(rng.randrange(10)) for _ in range(8))


def write_sms_export(out: Path, n: int, months: int, seed: int) -> dict[str, int]:
    """Write ``n`` messages as CSV files of at most ``ROWS_PER_FILE`` rows under ``out``; return counts."""
    rng = random.Random(seed)
    vocab = Vocabulary()
    contacts = [_phone(rng) for _ in range(max(4, min(400, n // 200)))]
    start = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)
    step = timedelta(days=30 * months) / max(n, 1)
    out.mkdir(parents=True, exist_ok=True)
    files = size = 0
    for first in range(0, n, ROWS_PER_FILE):
        path = out / f"export-{first // ROWS_PER_FILE:03d}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(HEADER)
            for i in range(first, min(n, first + ROWS_PER_FILE)):
                a, b = rng.sample(contacts, 2)
                when = start + step * i + timedelta(seconds=rng.randrange(600))
                conv = "-".join(sorted((a[-4:], b[-4:])))
                w.writerow((when.strftime("%d/%m/%Y %H:%M:%S"), a, b, conv, message(vocab, rng)))
        files += 1
        size += path.stat().st_size
    return {"files": files, "messages": n, "bytes": size, "contacts": len(contacts)}
