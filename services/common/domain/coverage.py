"""Who pays (三包): one rule for billing's lines and inventory's write-offs.

Seed 003, line by line:
- 在保修期内供方将免费维修和更换属质量原因造成的零部件损坏: in warranty and a quality
  failure, the maker pays; the customer pays nothing and the amount is claimed.
- 保修期外零部件的损坏，提供的配件只收成本费: out of warranty, the customer pays the parts
  at cost price, plus labour per the schedule.
- 由需方人为因素造成的设备损坏，供方维修或提供的配件均按成本价计: customer damage (人为损坏)
  or unauthorised repair, the customer pays, parts at cost price.

A line is ``customer`` (charged), ``warranty`` (free to the customer, claimed from the
maker) or ``repeat`` (labour of a repeat visit for the same fault: free to everyone).
Billing prices with this rule; inventory opens a write-off (the old part 旧件 owed to the
maker) exactly for the warranty parts (三包件) the maker pays for.
"""

from __future__ import annotations

CUSTOMER, WARRANTY, REPEAT = "customer", "warranty", "repeat"
IN_WARRANTY, MAIN_PARTS_ONLY, OUT_OF_WARRANTY = "in_warranty", "main_parts_only", \
    "out_of_warranty"
QUALITY_FAILURE, WEAR = "quality_failure", "wear"
CUSTOMER_DAMAGE, UNAUTHORISED_REPAIR = "customer_damage", "unauthorised_repair"
CAUSES = (QUALITY_FAILURE, WEAR, CUSTOMER_DAMAGE, UNAUTHORISED_REPAIR)
WARRANTIES = (IN_WARRANTY, MAIN_PARTS_ONLY, OUT_OF_WARRANTY)

COVERED_CAUSES = frozenset({QUALITY_FAILURE})                       # 质量原因
CUSTOMER_CAUSES = frozenset({CUSTOMER_DAMAGE, UNAUTHORISED_REPAIR})  # 人为因素


def who_pays(warranty: str, cause: str, item: str, main_part: bool = False,
             repeat_same_fault: bool = False) -> str:
    """The coverage of one line of a job: ``customer``, ``warranty`` or ``repeat``.

    ``item`` is the line's kind (labour, part, visit, inspection, remote); ``main_part``
    matters for a main-parts-only warranty (整机保修期满, 主要零部件仍在保修期内)."""
    if item == "labour" and repeat_same_fault:
        return REPEAT
    if cause not in COVERED_CAUSES:          # wear, customer damage, unauthorised repair
        return CUSTOMER
    if warranty == IN_WARRANTY:
        return WARRANTY
    if warranty == MAIN_PARTS_ONLY and item == "part" and main_part:
        return WARRANTY
    return CUSTOMER


def maker_pays_for_part(warranty: str | None, cause: str | None, main_part: bool) -> bool:
    """Whether the maker pays for a part used on the job (the customer does not)."""
    return who_pays(warranty or "", cause or QUALITY_FAILURE, "part", main_part) == WARRANTY


def old_part_owed(warranty_part: bool, warranty: str | None, cause: str | None,
                  main_part: bool) -> bool:
    """A write-off waits for the old part (旧件) exactly when the part is a warranty part
    (三包件) and the maker pays for it: the claim on the maker needs the old part; a part
    the customer paid for is the customer's, with nothing to claim."""
    return warranty_part and maker_pays_for_part(warranty, cause, main_part)
