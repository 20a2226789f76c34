"""Priority of a new order: safety hazards first (the triage, ``triage.py``), then key
customers, sensitive channels and repeat failures; the agent may override it with a reason,
and the override is kept with what the rules had decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.domain.triage import Finding

EMERGENCY = "emergency"
OVERRIDE_REASON = "agent_override"


@dataclass(frozen=True)
class PriorityRules:
    high_channels: tuple[str, ...]
    repeat_window_days: int


@dataclass(frozen=True)
class Override:
    """The agent's priority (人工改判) and why, as given with the request."""
    priority: str
    reason: str
    by: str  # who: role@branch or the named user
    at: datetime


def classify(rules: PriorityRules, hazards: list[Finding], channel: str, vip: bool,
             repeat_of: str | None) -> tuple[str, list[str]]:
    """Returns the priority and the reasons for it, for the agent's screen and the audit."""
    if hazards:
        return EMERGENCY, [finding.reason for finding in hazards]
    reasons = []
    if vip:
        reasons.append("key_customer")
    if channel in rules.high_channels:
        reasons.append(f"channel:{channel}")
    if repeat_of:
        reasons.append(f"repeat_of:{repeat_of}")
    return ("high", reasons) if reasons else ("normal", [])


def overridden(decided: tuple[str, list[str]], override: Override | None
               ) -> tuple[str, list[str], dict[str, Any] | None]:
    """The priority the order takes, its reasons, and the audit record of the override
    (who, when, why, and what the rules had decided), or None without one."""
    priority, reasons = decided
    if override is None:
        return priority, reasons, None
    record = {"priority": override.priority, "reason": override.reason, "by": override.by,
              "at": override.at, "decided": {"priority": priority, "reasons": reasons}}
    return override.priority, [*reasons, OVERRIDE_REASON], record
