"""Money as Decimal yuan in, integer fen everywhere else (ROUND_HALF_UP, never float).
One set of conversions for every service: bills, prices, refunds, what customers paid."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")


def to_fen(yuan: Decimal | str | int) -> int:
    """Yuan (exact decimal text or Decimal) -> whole fen, rounded half up."""
    if isinstance(yuan, float):
        raise TypeError("money is never a float")
    try:
        amount = Decimal(yuan)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {yuan!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {yuan!r}")
    return int(amount.quantize(FEN, rounding=ROUND_HALF_UP) * 100)


def times(unit_fen: int, quantity: Decimal | int) -> int:
    """unit price x quantity, to the fen (half up): quantities may be fractional (km)."""
    return int((Decimal(unit_fen) * Decimal(quantity)).quantize(Decimal(1),
                                                                  rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """Fen as yuan text with two places, for people."""
    return f"{Decimal(fen) / 100:.2f}"
