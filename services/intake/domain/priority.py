"""Priority of a new order: safety hazards first, then key customers, sensitive channels
and repeat failures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PriorityRules:
    emergency_keywords: tuple[str, ...]
    high_channels: tuple[str, ...]
    repeat_window_days: int


def matched_hazards(description: str, keywords: tuple[str, ...]) -> list[str]:
    text = description.lower()
    return [word for word in keywords if word.lower() in text]


def classify(rules: PriorityRules, description: str, channel: str, vip: bool,
             repeat_of: str | None) -> tuple[str, list[str]]:
    """Returns the priority and the reasons for it, for the agent's screen and the audit."""
    hazards = matched_hazards(description, rules.emergency_keywords)
    if hazards:
        return "emergency", [f"hazard:{word}" for word in hazards]
    reasons = []
    if vip:
        reasons.append("key_customer")
    if channel in rules.high_channels:
        reasons.append(f"channel:{channel}")
    if repeat_of:
        reasons.append(f"repeat_of:{repeat_of}")
    return ("high", reasons) if reasons else ("normal", [])
