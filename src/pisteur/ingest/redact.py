"""Secret redaction: API keys, tokens, passwords and private keys replaced by ``[REDACTED:<kind>]``.

Claude Code sessions hold secrets (a ``.env`` read by a tool, a token printed by ``gh auth status``, a
database URL with its password); they are redacted before the text is stored. Pure functions over text.

Why our own rules rather than ``detect-secrets``: detect-secrets scans *lines* and reports a secret's value,
not its position, so every finding has to be searched back in the text; and measured on the same data
(bench/redact.py, bench/results/redact.json) its default plugins and filters found 85 % of the labelled
corpus against 100 % here, fired 13 times per 1,000 chunks of real sessions (hashes, ordinary code) against
0.1, and ran at 0.02 MB/s against about 3 MB/s.
The provider formats below are the public token formats (GitHub, AWS, OpenAI, Anthropic, Slack, Stripe,
Google, Hugging Face, npm, GitLab, JWT, PEM) as documented by the providers and used by the gitleaks rule
set; each rule only runs when its literal prefix is present, so clean text costs a few substring checks.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from pisteur.types import Segment

REDACTION_VERSION = 1


@dataclass(frozen=True)
class Rule:
    kind: str  # what replaces the secret: [REDACTED:<kind>]
    pattern: re.Pattern[str]
    hints: tuple[str, ...] = ()  # the rule runs only if one of these occurs in the (lower-cased) text
    group: int = 0  # the group that is the secret (the rest of the match is kept)
    # (patterns start with a case-sensitive character class where they can: Python's re scans much faster
    # for one than for a case-insensitive alternation)
    entropy: float = 0.0  # minimal Shannon entropy (bits/char) of the secret, 0 = no check


def _r(kind: str, pattern: str, hints: tuple[str, ...], group: int = 0, entropy: float = 0.0) -> Rule:
    return Rule(kind, re.compile(pattern), hints, group, entropy)


# Values that are code or references, not secrets: ``os.environ[...]``, ``get_token()``, ``100000``.
_CODE_VALUE = re.compile(r"[()\[\]{}]|^\d+$|^(?:os|process|env|self|settings|config|ENV)\.")
_PLACEHOLDER = re.compile(
    r"^(?:\$|%|<|\{|\*{3}|x{3}|\.\.\.|your|my|changeme|change_me|example|placeholder|dummy|redacted|secret|"
    r"password|passwd|pass|pwd|token|none|null|true|false|test|string|undefined|\[)",
    re.I,
)

RULES: tuple[Rule, ...] = (
    _r("private-key",
       r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:(?!-----)[\s\S]){0,12000}?"
       r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----",
       ("private key",)),
    _r("private-key",  # a key cut before its END line (a truncated tool output)
       r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\]{0,12000}",
       ("private key",)),
    _r("aws-access-key", r"\bA(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}\b",
       ("akia", "asia", "abia", "acca", "a3t")),
    _r("aws-secret-key",
       r"(?i)aws[\w.-]{0,30}?(?:secret|sk)[\w.-]{0,30}?[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
       ("aws",)),
    _r("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    _r("github-token", r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b", ("github_pat_",)),
    _r("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}", ("glpat-",)),
    _r("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _r("openai-key", r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}", ("sk-",)),
    _r("openai-key", r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b", ("t3blbkfj",)),
    _r("openai-key", r"\bsk-[A-Za-z0-9]{48}\b", ("sk-",)),
    _r("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", ("xox",)),
    _r("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}", ("hooks.slack.com",)),
    _r("stripe-key", r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{20,}", ("_live_", "_test_")),
    _r("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", ("aiza",)),
    _r("huggingface-token", r"\bhf_[A-Za-z0-9]{34,}\b", ("hf_",)),
    _r("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    _r("jwt", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", ("eyj",)),
    _r("password-in-url", r"://[^\s:/@\"'<>]{1,100}:([^\s@/\"'<>]{3,200})@[\w.-]",
       ("://",), group=1),
    _r("password",  # .env / shell lines: DB_PASSWORD=..., export SMTP_PASSWD='...'
       r"(?im)^[ \t]*(?:export[ \t]+)?[A-Z0-9_]{0,40}(?:PASSWORD|PASSWD|PASSPHRASE|_PWD)[A-Z0-9_]{0,40}"
       r"[ \t]*=[ \t]*[\"']?([^\s\"'#]{6,200})",
       ("pass", "pwd"), group=1),
    _r("secret",  # .env / shell lines: APP_SECRET=..., SERVICE_TOKEN=..., MAPS_API_KEY=...
       r"(?im)^[ \t]*(?:export[ \t]+)?[A-Z0-9_]{0,40}(?:SECRET|TOKEN|API_?KEY|ACCESS_KEY)[A-Z0-9_]{0,40}"
       r"[ \t]*=[ \t]*[\"']?([^\s\"'#]{6,200})",
       ("secret", "token", "key"), group=1),
    _r("secret",
       r"[aAsStTpPcC](?i:pi[_-]?key|ecret|oken|asswd|assword|redential|uth)[\w.-]{0,20}[\"']?\s*[:=]"
       r"\s*[\"']([A-Za-z0-9+/_.=-]{20,200})[\"']",
       ("key", "secret", "token", "pass", "credential", "auth"), group=1, entropy=3.5),
)


@dataclass
class Redacted:
    """A redacted text, what was found, and the map from offsets in the original text to the new one."""

    text: str
    kinds: Counter[str] = field(default_factory=Counter)
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)  # (old start, old end, new start, new end)

    def offset(self, old: int) -> int:
        """The position in :attr:`text` of original offset ``old`` (inside a secret: the placeholder's start)."""
        i = bisect_right([s[0] for s in self.spans], old) - 1
        if i < 0:
            return old
        o_start, o_end, n_start, n_end = self.spans[i]
        return n_start if old < o_end else old - o_end + n_end


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _looks_random(value: str, minimum: float) -> bool:
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and entropy(value) >= minimum and not _PLACEHOLDER.match(value)


def find(text: str, rules: tuple[Rule, ...] = RULES) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every secret in ``text``, in order, without overlaps (first and longest win)."""
    lower = text.lower()
    found: list[tuple[int, int, str]] = []
    for rule in rules:
        if rule.hints and not any(h in lower for h in rule.hints):
            continue
        for m in rule.pattern.finditer(text):
            value = m.group(rule.group)
            if rule.group and (not value or _PLACEHOLDER.match(value) or _CODE_VALUE.search(value)):
                continue
            if rule.entropy and not _looks_random(value, rule.entropy):
                continue
            found.append((m.start(rule.group), m.end(rule.group), rule.kind))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    out: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if out and start < out[-1][1]:
            continue
        out.append((start, end, kind))
    return out


def redact(text: str, rules: tuple[Rule, ...] = RULES) -> Redacted:
    """``text`` with each secret replaced by ``[REDACTED:<kind>]``."""
    findings = find(text, rules)
    if not findings:
        return Redacted(text)
    parts: list[str] = []
    result = Redacted("")
    pos = new_pos = 0
    for start, end, kind in findings:
        parts.append(text[pos:start])
        new_pos += start - pos
        token = f"[REDACTED:{kind}]"
        parts.append(token)
        result.spans.append((start, end, new_pos, new_pos + len(token)))
        result.kinds[kind] += 1
        new_pos += len(token)
        pos = end
    parts.append(text[pos:])
    result.text = "".join(parts)
    return result


def redact_segments(segments: list[Segment]) -> Counter[str]:
    """Redact every segment's text in place (anchors follow the shifted offsets); returns the kinds found."""
    kinds: Counter[str] = Counter()
    for seg in segments:
        r = redact(seg.text)
        if not r.kinds:
            continue
        kinds.update(r.kinds)
        seg.text = r.text
        if seg.anchors:
            seg.anchors = [(r.offset(o), n, u) for o, n, u in seg.anchors]
    return kinds


@dataclass(frozen=True)
class RedactionPolicy:
    """What an index records about redaction (in its manifest): which readers redact, with which rules."""

    mode: str  # "reader-default" | "on" | "off"
    readers: tuple[str, ...]  # the readers whose text is redacted
    version: int = REDACTION_VERSION

    def to_manifest(self) -> dict[str, object]:
        return {"mode": self.mode, "readers": list(self.readers), "version": self.version}
