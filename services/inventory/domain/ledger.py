"""The stock ledger's rules: what each kind of movement does to a location's counters.

Stock is an append-only ledger of movements; ``on_hand``, ``reserved`` (per order too) and
``old_parts`` are derived counters moved in the same write as the entry. A movement that
would take a counter below zero is refused, never clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.errors import InvalidInput


@dataclass(frozen=True)
class Effect:
    on_hand: int = 0  # per unit moved
    reserved: int = 0
    old_parts: int = 0
    for_order: bool = False  # moves the order's own reservation


# Per unit: the sign of each counter's change.
KINDS: dict[str, Effect] = {
    "receive": Effect(on_hand=1),                    # 入库 (accepted after inspection)
    "reserve": Effect(reserved=1, for_order=True),   # held for an order
    "release": Effect(reserved=-1, for_order=True),
    "consume": Effect(on_hand=-1, reserved=-1, for_order=True),  # used on the order
    "consume_unreserved": Effect(on_hand=-1),        # used from the van without a hold
    "issue": Effect(on_hand=-1),                     # 领用 after approval
    "transfer_out": Effect(on_hand=-1),
    "transfer_in": Effect(on_hand=1),
    "transfer_out_reserved": Effect(on_hand=-1, reserved=-1, for_order=True),
    "transfer_in_reserved": Effect(on_hand=1, reserved=1, for_order=True),
    "adjust_in": Effect(on_hand=1),                  # count variance, approved
    "adjust_out": Effect(on_hand=-1),
    "scrap": Effect(on_hand=-1),                     # 报废, approved
    "old_part_return": Effect(old_parts=1),          # 旧件 back from the customer's unit
    # Records with no counter change: units refused at inspection, a count (盘点) that
    # matched the books.
    "inspection_reject": Effect(),
    "count": Effect(),
}
MOVEMENT_KINDS = tuple(KINDS)


@dataclass(frozen=True)
class Deltas:
    on_hand: int
    reserved: int
    available: int
    old_parts: int
    order: int  # change of the order's own reservation

    def counters(self) -> dict[str, int]:
        return {"on_hand": self.on_hand, "reserved": self.reserved,
                "available": self.available, "old_parts": self.old_parts}


def deltas(kind: str, quantity: int, order_id: str | None = None) -> Deltas:
    """The counter changes of a movement; bad kinds or quantities are refused."""
    effect = KINDS.get(kind)
    if effect is None:
        raise InvalidInput(f"unknown movement kind {kind!r}", {"kind": ["Unknown kind."]})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidInput("quantities are positive whole numbers",
                           {"quantity": ["Must be a whole number of at least 1."]})
    if effect.for_order and not order_id:
        raise InvalidInput(f"a {kind} movement names its order", {"order_id": ["Required."]})
    on_hand, reserved = effect.on_hand * quantity, effect.reserved * quantity
    return Deltas(on_hand, reserved, on_hand - reserved, effect.old_parts * quantity,
                  reserved if effect.for_order else 0)


def guards(d: Deltas) -> dict[str, int]:
    """Minimum values each counter must hold before the movement (so none goes below 0)."""
    needed = {}
    if d.available < 0:
        needed["available"] = -d.available
    if d.on_hand < 0:
        needed["on_hand"] = -d.on_hand
    if d.reserved < 0:
        needed["reserved"] = -d.reserved
    if d.order < 0:
        needed["order"] = -d.order
    return needed


@dataclass
class Balance:
    """An in-memory location/part balance: the reference model for the store's updates."""

    on_hand: int = 0
    reserved: int = 0
    old_parts: int = 0
    by_order: dict[str, int] = field(default_factory=dict)
    ledger: list[tuple[str, int, Deltas]] = field(default_factory=list)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def apply(self, kind: str, quantity: int, order_id: str | None = None) -> bool:
        """Append the movement if every guard holds; False (nothing changes) otherwise."""
        d = deltas(kind, quantity, order_id)
        values = {"available": self.available, "on_hand": self.on_hand,
                  "reserved": self.reserved, "order": self.by_order.get(order_id or "", 0)}
        if any(values[name] < minimum for name, minimum in guards(d).items()):
            return False
        self.on_hand += d.on_hand
        self.reserved += d.reserved
        self.old_parts += d.old_parts
        if d.order:
            self.by_order[order_id] = self.by_order.get(order_id, 0) + d.order
        self.ledger.append((kind, quantity, d))
        return True
