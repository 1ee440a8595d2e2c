"""Source profiles: each kind of source carries the dictionaries that fit it.

A developer searching Claude Code sessions types "pre-commit hook": police acronyms ("PRE" → procureur de la
république) and SMS forms ("pr" → pour) have nothing to say about it, and "hook" must not become "crochet". A
case-file analyst typing "GAV" or "rendez-vous" wants exactly those expansions on PV reports and SMS exports.
So a query over mixed sources is expanded once per profile, each with the dictionaries that declare it
(``profiles = [...]`` at the top of a dictionary file; a dictionary without the key applies to every
profile), and each expansion only searches the chunks of its profile's kinds.

==============  ==========================================  ==================================================
profile         kinds                                       shipped dictionaries
==============  ==========================================  ==================================================
``sessions``    exchange, summary, tool_result, thinking    dev
``documents``   document                                    acronyms, concepts, insults, sms, dev
``messages``    message                                     acronyms, concepts, insults, sms
==============  ==========================================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from pisteur.types import (
    KIND_DOCUMENT,
    KIND_EXCHANGE,
    KIND_MESSAGE,
    KIND_SUMMARY,
    KIND_THINKING,
    KIND_TOOL_RESULT,
)


@dataclass(frozen=True)
class SourceProfile:
    name: str
    kinds: tuple[str, ...]
    description: str


PROFILES: tuple[SourceProfile, ...] = (
    SourceProfile(
        "sessions",
        (KIND_EXCHANGE, KIND_SUMMARY, KIND_TOOL_RESULT, KIND_THINKING),
        "Claude Code sessions: developer vocabulary only",
    ),
    SourceProfile("documents", (KIND_DOCUMENT,), "case files and documents: every dictionary"),
    SourceProfile("messages", (KIND_MESSAGE,), "SMS and chat exports: SMS forms, acronyms, concepts, insults"),
)
PROFILE_NAMES = tuple(p.name for p in PROFILES)


def profiles_for(kinds: tuple[str, ...] | list[str] | None) -> list[SourceProfile]:
    """The profiles a search over ``kinds`` (None: every kind) touches, each reduced to those kinds."""
    if not kinds:
        return list(PROFILES)
    wanted = set(kinds)
    out = []
    for p in PROFILES:
        ks = tuple(k for k in p.kinds if k in wanted)
        if ks:
            out.append(SourceProfile(p.name, ks, p.description))
    return out


__all__ = ["PROFILES", "PROFILE_NAMES", "SourceProfile", "profiles_for"]
