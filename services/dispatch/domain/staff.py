"""Whose technicians and service centres (网点) a branch may name.

Service centres have no register of their own yet: a centre is known by the technicians
who work from it. One that no technician staffs is nobody's, and a branch may name it
(a complaint about a centre before its technicians are registered); one staffed by
another branch's technicians only is that branch's.
"""

from __future__ import annotations


def centre_is_branchs(staffed_by: set[str], branch: str) -> bool:
    """Whether ``branch`` may name a centre whose technicians work for ``staffed_by``."""
    return not staffed_by or branch in staffed_by
