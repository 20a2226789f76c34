"""Safety triage (安全分诊): does the customer report a hazard of their product's kind?

A hazard is reported when one of its phrases stands in a clause of the description and is
neither denied nor only feared:
- denied: a negation right before it with only filler words between (没有闻到煤气味,
  不漏电, no gas smell), or a negation ending the clause after it (焦味倒是没有);
- feared or asked about: a hedge earlier in the same clause (担心会漏电, 有没有漏气,
  会不会触电). A suspicion (好像有煤气味, 是不是漏气了) is a report: safety first.
Clauses are split on punctuation and on connectives (但是, 而且...), so "没有煤气味，就是不出
热水" denies nothing of the second clause and the first clause's hazard is denied.

A phrase ``A|B+C|D`` needs one of A, B and one of C, D, each reported, in one sentence
(漏水 with 插座: water onto a live socket). The matched words are kept as the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SENTENCE_ENDS = re.compile(r"[。！？!?；;\n]|\.(?:\s|$)")
CLAUSE_BREAKS = re.compile(r"[，,、：:（）()]|但是|可是|不过|但|而且|并且|然后|同时|"
                           r"\bbut\b|\band\b|\bthough\b")
LATIN_WORD = re.compile(r"[a-z][a-z ]*[a-z]|[a-z]")
TRAILING = " 了啊呀的吧呢哦嘛"  # particles that may close a clause after a negation


@dataclass(frozen=True)
class Hazard:
    kind: str  # gas_smell, electric_shock, water_on_electrics...
    advice: str  # which safety advice the customer is given (gas, electric)
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class TriageRules:
    hazards: tuple[Hazard, ...]
    by_category: Mapping[str, tuple[str, ...]]  # a category not named has every hazard
    negations: tuple[str, ...]
    negation_gap: tuple[str, ...]
    not_negations: tuple[str, ...]
    hedges: tuple[str, ...]

    def of_category(self, category: str) -> tuple[Hazard, ...]:
        kinds = self.by_category.get(category)
        if kinds is None:
            return self.hazards
        return tuple(hazard for hazard in self.hazards if hazard.kind in kinds)


def rules_from(spec: Mapping[str, Any]) -> TriageRules:
    """The rules from the reference data's ``priority`` section (deploy/config)."""
    return TriageRules(
        tuple(Hazard(kind, hazard["advice"], tuple(hazard["phrases"]))
              for kind, hazard in spec["hazards"].items()),
        {category: tuple(kinds) for category, kinds in spec["hazards_by_category"].items()},
        *(tuple(word.lower() for word in spec[name])
          for name in ("negations", "negation_gap", "not_negations", "hedges")))


@dataclass(frozen=True)
class Finding:
    kind: str
    advice: str
    phrase: str  # the words matched: 煤气味, 漏水+插座

    @property
    def reason(self) -> str:
        return f"hazard:{self.phrase}"


def triage(rules: TriageRules, description: str, category: str) -> list[Finding]:
    """The hazards of ``category`` the description reports, one finding per hazard, in
    the order of the rules."""
    sentences = [_clauses(sentence) for sentence in SENTENCE_ENDS.split(description.lower())]
    findings = []
    for hazard in rules.of_category(category):
        phrase = _first_reported(rules, hazard.phrases, sentences)
        if phrase is not None:
            findings.append(Finding(hazard.kind, hazard.advice, phrase))
    return findings


def _clauses(sentence: str) -> list[str]:
    return [clause.strip() for clause in CLAUSE_BREAKS.split(sentence) if clause.strip()]


def _first_reported(rules: TriageRules, phrases: tuple[str, ...],
                    sentences: list[list[str]]) -> str | None:
    for phrase in phrases:
        parts = [part.lower().split("|") for part in phrase.split("+")]
        for clauses in sentences:
            found = [_reported_word(rules, words, clauses) for words in parts]
            if all(found):
                return "+".join(word for word in found if word)
    return None


def _reported_word(rules: TriageRules, words: list[str], clauses: list[str]) -> str | None:
    """The first of ``words`` some clause reports (not denied, not only feared)."""
    for word in words:
        if any(_reports(rules, clause, word) for clause in clauses):
            return word
    return None


def _reports(rules: TriageRules, clause: str, word: str) -> bool:
    for found in re.finditer(_pattern(word), clause):
        start, end = found.span()
        if not (_hedged(rules, clause[:start]) or _denied_before(rules, clause, start)
                or _denied_after(rules, clause[end:])):
            return True
    return False


def _pattern(word: str) -> str:
    """Latin words match whole words only (``no`` is not in ``noise``), also next to
    Chinese (``有gas smell``)."""
    escaped = re.escape(word)
    return rf"(?<![a-z]){escaped}(?![a-z])" if LATIN_WORD.fullmatch(word) else escaped


def _ends_with(text: str, words: tuple[str, ...]) -> str | None:
    """The longest of ``words`` that ``text`` ends with (a whole word, for Latin ones)."""
    for word in sorted(words, key=len, reverse=True):
        if re.search(_pattern(word) + r"\s*$", text):
            return word
    return None


def _hedged(rules: TriageRules, before: str) -> bool:
    return any(re.search(_pattern(hedge), before) for hedge in rules.hedges)


def _denied_before(rules: TriageRules, clause: str, start: int) -> bool:
    """A negation before ``clause[start:]`` with only fillers between, that is not part
    of a word that denies nothing (不停, 打不着, 是不是)."""
    text = clause[:start].rstrip()
    while True:
        negation = _ends_with(text, rules.negations)
        if negation is not None:
            rest = clause[len(text) - len(negation):]
            return not any(rest.startswith(word) or text.endswith(word)
                           for word in rules.not_negations)
        filler = _ends_with(text, rules.negation_gap)
        if filler is None:
            return False
        text = text[:len(text) - len(filler)].rstrip()


def _denied_after(rules: TriageRules, after: str) -> bool:
    """A negation closing the clause after the hazard, past fillers (焦味倒是没有)."""
    text = after.strip()
    while True:
        negation = _starts_with(text, rules.negations)
        if negation is not None and not text[len(negation):].strip(TRAILING):
            return True
        filler = _starts_with(text, rules.negation_gap)
        if filler is None:
            return False
        text = text[len(filler):].lstrip()


def _starts_with(text: str, words: tuple[str, ...]) -> str | None:
    for word in sorted(words, key=len, reverse=True):
        if re.match(_pattern(word), text):
            return word
    return None
