"""Published commitments (the SLA clock): which target applies, and the deadlines.

Configuration shape (see deploy/config/reference.yaml)::

    commitments:
      default: {<milestone>: {calendar, targets: {emergency|<zone>: "2h"}, by_request_type}}
      branches: {<branch>: <same shape, overrides>}
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.domain.calendars import AlwaysCalendar, OfficeCalendar

MILESTONES = ("first_contact", "arrival", "resolution")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(m|h|d|wd)$")

Calendar = AlwaysCalendar | OfficeCalendar


@dataclass(frozen=True)
class MilestoneRule:
    milestone: str
    calendar: Calendar
    target: timedelta
    pause_on: tuple[str, ...] = ()

    @property
    def target_seconds(self) -> float:
        return self.target.total_seconds()


def parse_duration(text: str, calendar: Calendar) -> timedelta:
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use 30m, 2h, 1d or 2wd)")
    amount, unit = float(match.group(1)), match.group(2)
    if unit == "m":
        return timedelta(minutes=amount)
    if unit == "h":
        return timedelta(hours=amount)
    if unit == "d":
        return timedelta(days=amount)
    return calendar.working_day * amount


class Commitments:
    def __init__(self, config: dict, calendars: dict[str, Calendar]) -> None:
        self._default = config.get("default", {})
        self._branches = config.get("branches") or {}
        self._calendars = calendars
        for branch in [None, *self._branches]:  # fail on start, not on the first order
            for milestone in MILESTONES:
                for spec in self._specs(branch, milestone):
                    for text in spec.get("targets", {}).values():
                        parse_duration(text, self._calendar(spec))

    def _calendar(self, spec: dict) -> Calendar:
        name = spec.get("calendar", "24x7")
        if name not in self._calendars:
            raise ValueError(f"unknown calendar {name!r} in commitments")
        return self._calendars[name]

    def _milestone_spec(self, branch: str | None, milestone: str) -> dict:
        """The default milestone settings with the branch's overrides laid over them, key
        by key (a branch may change one zone's target and keep the rest)."""
        base = self._default.get(milestone, {})
        override = (self._branches.get(branch) or {}).get(milestone, {})
        spec = {**base, **override}
        spec["targets"] = {**base.get("targets", {}), **override.get("targets", {})}
        by_type = dict(base.get("by_request_type") or {})
        for request_type, rules in (override.get("by_request_type") or {}).items():
            inherited = by_type.get(request_type, {})
            by_type[request_type] = {**inherited, **rules, "targets": {
                **inherited.get("targets", {}), **rules.get("targets", {})}}
        spec["by_request_type"] = by_type
        return spec if (base or override) else {}

    def _specs(self, branch: str | None, milestone: str) -> Iterator[dict]:
        spec = self._milestone_spec(branch, milestone)
        if spec:
            yield spec
            yield from (spec.get("by_request_type") or {}).values()

    def rule(self, branch: str, zone: str, request_type: str, priority: str,
             milestone: str) -> MilestoneRule | None:
        spec = self._milestone_spec(branch, milestone)
        if not spec:
            return None
        override = (spec.get("by_request_type") or {}).get(request_type)
        # A request-type rule without its own calendar keeps the milestone's calendar.
        chosen = {"calendar": spec.get("calendar", "24x7"), **override} if override else spec
        targets = chosen.get("targets", {})
        key = "emergency" if priority == "emergency" and "emergency" in targets else zone
        if key not in targets:
            return None
        calendar = self._calendar(chosen)
        return MilestoneRule(
            milestone=milestone,
            calendar=calendar,
            target=parse_duration(targets[key], calendar),
            pause_on=tuple(chosen.get("pause_on", spec.get("pause_on", ()))),
        )

    def deadlines(self, branch: str, zone: str, request_type: str, priority: str,
                  received_at: datetime) -> dict[str, datetime]:
        result = {}
        for milestone in MILESTONES:
            rule = self.rule(branch, zone, request_type, priority, milestone)
            if rule is not None:
                result[milestone] = rule.calendar.add(received_at, rule.target)
        return result

    def published(self, branches: list[str], zones: tuple[str, ...],
                  request_types: tuple[str, ...],
                  priorities: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], float]]:
        """Every (branch, zone, milestone, request_type, priority) target, in seconds."""
        for branch in branches:
            for zone in zones:
                for request_type in request_types:
                    for priority in priorities:
                        for milestone in MILESTONES:
                            rule = self.rule(branch, zone, request_type, priority, milestone)
                            if rule is not None:
                                labels = (branch, zone, milestone, request_type, priority)
                                yield labels, rule.target_seconds

    def thresholds(self, branches: list[str], zones, request_types, priorities) -> list[float]:
        return sorted({seconds for _, seconds in
                       self.published(branches, zones, request_types, priorities)})
