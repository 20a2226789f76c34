"""A service centre's earning (网点结算) held for review, and the reviewer's decision.

An earning waits (``pending``) for the callback to verify the job. A callback that is
neutral, unhappy or never reaches the customer holds it with a review note. Finance or a
supervisor then decides, with a reason that is kept with who decided and when:
- **release**: the whole amount goes into the centre's next monthly statement;
- **reduce**: part of it goes (an amount above nothing and at most what is held);
- **withhold**: nothing is paid for the job (``withheld``, never in a statement).
A decision is final. Asking for the same decision again changes nothing and answers as
the first time did; asking for a different one is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, RELEASED, WITHHELD = "pending", "released", "withheld"
RELEASE, REDUCE, WITHHOLD = "release", "reduce", "withhold"
ACTIONS = (RELEASE, REDUCE, WITHHOLD)


class ReviewRefused(Exception):
    """The decision cannot be made; ``field`` names the input at fault (None: the
    earning's state is the reason, a conflict)."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Decision:
    """What the reviewer decided: the earning's new state and what the centre is paid."""

    action: str
    state: str
    held_fen: int            # the amount held for review
    amount_fen: int          # what goes into the statement (0 when withheld)
    reason: str

    @property
    def withheld_fen(self) -> int:
        return self.held_fen - self.amount_fen


def is_held(earning: dict) -> bool:
    """Pending with a review note: the callback did not verify the job."""
    return earning.get("state") == PENDING and bool(earning.get("review"))


def decide(earning: dict, action: str, reason: str, amount_fen: int | None = None
           ) -> Decision:
    """The reviewer's decision on a held earning (raises ReviewRefused otherwise)."""
    if not reason or not reason.strip():
        raise ReviewRefused("a decision needs its reason", "reason")
    if action not in ACTIONS:
        raise ReviewRefused(f"the action is one of {', '.join(ACTIONS)}", "action")
    if action != REDUCE and amount_fen is not None:
        raise ReviewRefused("an amount is given only to reduce", "amount_fen")
    if not is_held(earning):
        raise ReviewRefused(f"earning {earning.get('_id')} is {earning.get('state')}"
                            + ("" if earning.get("state") != PENDING else
                               ", awaiting its callback") + "; only a held earning is reviewed")
    held = int(earning["amount_fen"])
    if action == RELEASE:
        return Decision(action, RELEASED, held, held, reason.strip())
    if action == WITHHOLD:
        return Decision(action, WITHHELD, held, 0, reason.strip())
    if amount_fen is None:
        raise ReviewRefused("reducing needs the amount to pay", "amount_fen")
    if not 0 < amount_fen <= held:
        raise ReviewRefused(f"the amount to pay is more than 0 and at most the {held} fen "
                            "held", "amount_fen")
    return Decision(action, RELEASED, held, amount_fen, reason.strip())


def same_decision(earning: dict, action: str, amount_fen: int | None) -> bool:
    """Whether the earning was already decided this way (a repeated request)."""
    made = earning.get("decision") or {}
    if made.get("action") != action:
        return False
    return action != REDUCE or made.get("amount_fen") == amount_fen
