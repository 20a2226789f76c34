"""Capacity reconciliation: when a technician's slot counter may be corrected.

Taking a slot and writing the order are two single-document writes, so a process that dies
between them (or between an order's release and the counter's ``$inc``) leaves the counter
wrong for good. The orders a technician holds are the truth. But a correct counter can look
wrong for a moment while another worker is between its two writes, so a mismatch is only
corrected when it was seen twice, a whole interval apart, with no slot taken or released
in between (the counter's ``slots_version`` unchanged): a worker still between its two
writes after a whole interval is a worker that died.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlotCheck:
    """What a reconciliation pass saw of one technician."""

    active_jobs: int
    slots_version: int
    held: int  # orders that hold this technician (offered to, or taken by, them)


@dataclass(frozen=True)
class Verdict:
    action: str  # "ok": counter right; "note": remember and look again; "fix": correct it
    held: int


def judge(seen: SlotCheck, noted: dict | None) -> Verdict:
    """``noted`` is the previous pass's note on the technician ({"version", "held"}), if
    any; it must match this pass exactly for the counter to be corrected."""
    if seen.active_jobs == seen.held:
        return Verdict("ok", seen.held)
    if noted and noted.get("version") == seen.slots_version and noted.get("held") == seen.held:
        return Verdict("fix", seen.held)
    return Verdict("note", seen.held)
