"""Concept queries: a query that names a kind of abuse ("message insultant", "menace de mort", "propos racistes")
ranks the messages that ARE that act above the messages that talk about it.

Why a separate step: the query's words ("insultant", "menace") are what a victim's complaint, a police report or
a piece of advice contains ("il m'a insulté", "plainte pour menaces"), while the insult itself ("ta gueule sale
con") shares no word with the query. Query-to-text similarity (BM25 and the dense model alike) therefore favours
the mention over the use. For a query whose content words are exactly one concept entry of the shipped
dictionaries (``dictionaries/concepts.toml``) that has a profile below, the first-stage candidates, plus the
messages nearest to the concept's prototypes, are re-scored by:

- **prototype contrast** (dense): the mean of the 3 best cosines to a few short messages written to BE the concept,
  minus the same for messages that only MENTION abuse or use its words as banter (reports, advice, news, jokes
  between friends). Both sides are embedded as documents, so the comparison is message to message;
- **use markers**: the concept's lexicon (the entry's expansions) found in a message addressed to someone
  (second person, vocative "sale X", "espèce de X", imperative) or as a bare name-calling message;
- **mention markers**: reporting ("il m'a traité de", "s'est fait menacer"), naming the act ("insultes",
  "racisme", "plainte", "harcèlement"), and banter markers (affection, games) lower a message.

Other queries are left exactly as they were (``match`` returns None). Turn the step off with the search option
``concepts=False``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pisteur.text.analysis import analyze

_LOCK = threading.Lock()
TOP_PROTOTYPES = 3  # cosines averaged per side (a message is near the concept if it is near a few prototypes)
WEIGHTS = {"contrast": 1.0, "use": 0.8, "address": 0.3, "mention": 1.0, "banter": 0.8, "first_stage": 0.25}

_BANTER_MENTION = (
    "mdr t'es trop con je t'aime 😂", "jvais te tuer a fifa ce soir lol", "t'es un malade ce but frere",
    "wsh mon gros on se capte quand", "ma mere va me tuer si je rentre tard", "ce film etait une tuerie",
)
_MENTION = (
    "il m'a insulté devant tout le monde", "elle s'est fait traiter de tous les noms sur insta",
    "j'ai porté plainte pour menaces", "mon frere s'est fait menacer a la sortie", "le racisme c'est grave",
    "on a parlé du harcelement et des insultes en cours", "il faut signaler les messages haineux",
    "le prevenu reconnait avoir tenu des propos injurieux", "c'est pas bien de se moquer du physique des gens",
    "il m'a dit qu'il allait me frapper j'ai peur", "article sur l'homophobie dans le sport",
    "ils l'ont humiliée devant la classe c'est horrible", "je me trouve trop grosse en ce moment",
    *_BANTER_MENTION,
)


@dataclass(frozen=True)
class Profile:
    """What a concept's messages look like: short messages written to BE it (not taken from any data set)."""

    name: str
    prototypes: tuple[str, ...]
    unlike: tuple[str, ...] = ()  # other profiles whose messages are not this one ("sale con" is no racism)


_RACISM = (
    "sale arabe rentre chez toi", "les noirs dehors on veut pas de vous", "sale juif avare", "sale chinois",
    "les etrangers c'est tous des voleurs", "retourne dans ton pays", "les musulmans c'est tous des terroristes",
    "sale bougnoule", "les roms c'est des parasites", "nique les arabes",
)
_HOMOPHOBIA = (
    "sale pede", "t'es qu'une tafiole", "les homos c'est contre nature", "sale gouine", "les gays ils me degoutent",
    "espece de tarlouze", "les trans c'est des malades", "on va te casser la gueule sale pd", "t'es une pedale",
)
PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("insulte", (
        "t'es qu'un sale con", "ferme ta gueule espece d'idiot", "va te faire voir pauvre type", "t'es une conne finie",
        "sale merde t'es rien", "connard va", "t'es debile ou quoi abruti", "fils de pute", "degage sale batard",
        "pauvre tache",
    )),
    Profile("menace", (
        "je vais te tuer", "t'es mort si je te trouve", "on sait ou tu habites fais attention", "tu vas le payer cher",
        "je vais te casser la gueule demain", "si tu parles je te bute", "je vais m'occuper de ta famille",
        "je vais bruler ta maison", "tu vas finir dans un fosse", "paye ou je te retrouve",
    ), ("insulte",)),
    Profile("racisme", _RACISM, ("insulte", "homophobie", "moquerie sur le physique")),
    Profile("homophobie", _HOMOPHOBIA, ("insulte", "racisme", "moquerie sur le physique")),
    Profile("haine", _RACISM + _HOMOPHOBIA, ("insulte", "moquerie sur le physique")),
    Profile("moquerie sur le physique", (
        "gros lard", "t'es trop grosse personne veut de toi", "grosse baleine", "regarde ton ventre t'es enorme",
        "t'es moche comme un pou", "sac d'os", "gros porc arrete de bouffer", "t'as des bras de crevette",
        "grosse vache", "avec ta tronche personne te regarde",
    ), ("insulte", "humiliation")),
    Profile("humiliation", (
        "tout le monde a vu ta photo mdr", "on a balance ta video dans le groupe", "excuse toi a genoux devant nous",
        "t'es la risee du lycee", "meme tes parents ont honte de toi", "on a tous lu tes messages",
        "va nous chercher a manger larbin", "personne veut de toi dans le groupe",
        "on t'a filme ca va tourner partout", "t'es la honte de ta famille",
    ), ("insulte", "menace", "moquerie sur le physique")),
)}


@dataclass(frozen=True)
class ConceptQuery:
    profile: Profile
    lexicon: tuple[frozenset[str], ...]  # each expansion form as its analysed terms
    words: frozenset[str]  # the analysed words of every form of the entry ("insult", "menac"...)


def fold(text: str) -> str:
    """Lower case, accents removed, typographic apostrophes made plain ("T’es" -> "t'es")."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


_ADDRESS = re.compile(
    r"(?:^|[^a-z])(?:t'?es|t'|tu|toi|te|ta|ton|tes|ti|vos|votre|jte|sale|espece d|bande d"
    r"|pauvre|petite? |ferme|degage|casse toi|va |vas y|bouge|retourne|rentre|tg|ntm|fdp)(?:[^a-z]|$)"
)
_REPORT = re.compile(
    r"\b(?:m'a|m a|l'a|nous a|il a|elle a|ils ont|on m'a|on l'a|s'est fait|se fait|se faire|traite[er]?s? de|"
    r"traitee?s? de|m'ont|parait|selon|dit que|dit qu)\b"
)
_ACT_WORDS = re.compile(
    r"\b(?:insult\w*|injur\w*|menac\w*|racis\w*|homophob\w*|transphob\w*|harcel\w*|humili\w*|moqu\w*|grossophob\w*"
    r"|plainte|signal\w*|commissariat|parquet|pv|proces|condamn\w*|reportage|article|journal|expose|victime"
    r"|propos|remarques?|blagues?|gros mots?|main courante|3018|agress\w*)\b"
)
_BANTER = re.compile(
    r"(?:je t'aime|jtm|t'es le meilleur|t'es la meilleure|ma belle|mon reuf|❤|😘|🥰|fifa|mario kart|jeu video"
    r"|match|tournoi|film|video m'a)"
)


@dataclass(frozen=True)
class Signals:
    use: float  # the concept's lexicon, used at someone or as a bare name
    address: float  # addressed to someone
    mention: float  # reports or names the act
    banter: float  # affection or games around the words


def signals(text: str, cq: ConceptQuery) -> Signals:
    folded = fold(text)
    terms = set(analyze(text))
    lexical = any(form and form <= terms for form in cq.lexicon)
    address = bool(_ADDRESS.search(folded))
    short = len(folded.split()) <= 4
    report = bool(_REPORT.search(folded))
    act = bool(_ACT_WORDS.search(folded)) or bool(terms & cq.words)
    mention = 1.0 if report and act else 0.6 if act or report else 0.0
    return Signals(
        use=1.0 if lexical and (address or short) and not mention else 0.0,
        address=1.0 if address and not report else 0.0,
        mention=mention,
        banter=1.0 if _BANTER.search(folded) else 0.0,
    )


_ENTRIES: dict[int, dict[tuple[str, ...], tuple[str, list[str], list[str]]]] = {}


def _entries(dictionaries: Any = None) -> dict[tuple[str, ...], tuple[str, list[str], list[str]]]:
    """analysed key -> (the entry's first form, its forms, its expansions), over every dictionary's concepts."""
    d = dictionaries if dictionaries is not None and hasattr(dictionaries, "dicts") else _concept_dictionaries()
    with _LOCK:
        if id(d) not in _ENTRIES:
            _ENTRIES.clear()  # one set of dictionaries at a time (they reload when the user folder changes)
            _ENTRIES[id(d)] = _build_entries(d)
        return _ENTRIES[id(d)]


def _concept_dictionaries() -> Any:
    """The shipped and user dictionaries that hold a ``[concepts]`` table, parsed whole. The default set that
    expansion uses is read lazily from its on-disk cache, one shard per query word, so its tables are empty
    here; only these few small files are parsed (once per change of the user folder)."""
    from pisteur.retrieve.lexicon import _stamp, user_dictionary_dir

    udir = user_dictionary_dir()
    return _concept_files(str(udir), _stamp(udir))


@lru_cache(maxsize=2)
def _concept_files(user_dir: str, stamp: tuple[tuple[str, int], ...]) -> Any:
    from pathlib import Path

    from pisteur.retrieve.lexicon import Dictionaries, _merge, _read_toml, _shipped_files

    merged: dict[str, Any] = {}
    files = [(p, f"shipped:{p.name}") for p in _shipped_files()]
    udir = Path(user_dir)
    if udir.is_dir():
        files += [(p, str(p)) for p in sorted(udir.glob("*.toml"))]
    for p, source in files:
        if "[concepts" in p.read_text(encoding="utf-8"):
            _merge(merged, _read_toml(p, p.name.removesuffix(".toml")), source)
    return Dictionaries(merged.values())


def _build_entries(d: Any) -> dict[tuple[str, ...], tuple[str, list[str], list[str]]]:
    out: dict[tuple[str, ...], tuple[str, list[str], list[str]]] = {}
    by_first: dict[str, list[str]] = {}
    for one in d.dicts.values():
        for key, values in one.tables.get("concepts", {}).items():
            forms = [f.strip() for f in key.split("|") if f.strip()]
            if forms:
                by_first.setdefault(forms[0], []).extend(values)
    for one in d.dicts.values():
        for key in one.tables.get("concepts", {}):
            forms = [f.strip() for f in key.split("|") if f.strip()]
            for f in forms:
                out.setdefault(tuple(analyze(f)), (forms[0], forms, by_first[forms[0]]))
    return out


def match(query: str, dictionaries: Any = None) -> ConceptQuery | None:
    """The concept a query names, when its content words are exactly one entry's form with a profile; else None."""
    key = tuple(analyze(query))
    if not key or _REPORT.search(fold(query)):  # "il m'a insulté" asks for the report, not the insult
        return None
    entry = _entries(dictionaries).get(key)
    if entry is None or entry[0] not in PROFILES:
        return None
    first, forms, values = entry
    lexicon = tuple(frozenset(analyze(v)) for v in dict.fromkeys(values))
    words = frozenset(w for f in forms for w in analyze(f))
    return ConceptQuery(PROFILES[first], lexicon, words)


_VECTORS: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}


def _prototype_vectors(embedder: Any, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(use, mention) prototype vectors for this embedder, embedded once per process as documents."""
    key = (id(embedder), profile.name)
    with _LOCK:
        if key not in _VECTORS:
            others = [t for name in profile.unlike for t in PROFILES[name].prototypes]
            texts = [*profile.prototypes, *_MENTION, *others]
            vecs = np.asarray(embedder.embed_documents(texts), np.float32)
            _VECTORS[key] = (vecs[: len(profile.prototypes)], vecs[len(profile.prototypes):])
        return _VECTORS[key]


def _top_mean(sims: np.ndarray) -> np.ndarray:
    k = min(TOP_PROTOTYPES, sims.shape[1])
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def rank(
    cq: ConceptQuery, fused: Sequence[tuple[int, float]], store: Any, embedder: Any, n: int, filters: Any = None
) -> list[tuple[int, float]]:
    """Re-score the first-stage candidates (plus the messages nearest the prototypes) for the concept."""
    ids = list(dict.fromkeys(i for i, _ in fused[:n]))
    contrast = None
    if embedder is not None:
        try:
            use_v, mention_v = _prototype_vectors(embedder, cq.profile)
            centroid = use_v.mean(axis=0)
            centroid /= float(np.linalg.norm(centroid)) or 1.0
            ids = list(dict.fromkeys([*ids, *(i for i, _ in store.dense_search(centroid, n, filters))]))
            vecs = np.asarray(store.vectors(ids), np.float32)
            diff = _top_mean(vecs @ use_v.T) - _top_mean(vecs @ mention_v.T)
            contrast = dict(zip(ids, diff.tolist(), strict=True))
        except (KeyError, NotImplementedError, AttributeError, ValueError):  # no vectors (yet): rules only
            contrast = None
    if not ids:
        return []
    texts = {h.id: h.text or "" for h in store.get(ids)}
    ids = [i for i in ids if i in texts]
    first = dict(fused)
    stage = np.asarray([first.get(i, min(first.values(), default=0.0)) for i in ids], np.float64)
    w = WEIGHTS
    score = w["first_stage"] * _z(stage)
    if contrast is not None:
        score += w["contrast"] * _z(np.asarray([contrast.get(i, 0.0) for i in ids], np.float64))
    for j, i in enumerate(ids):
        s = signals(texts[i], cq)
        score[j] += w["use"] * s.use + w["address"] * s.address - w["mention"] * s.mention - w["banter"] * s.banter
    order = sorted(range(len(ids)), key=lambda j: (-score[j], j))
    return [(ids[j], float(score[j])) for j in order]
