"""Order numbers drawn in blocks: one atomic write reserves a block, numbers are then handed
out in memory. Unique across replicas; a restart leaves a gap, never a repeat."""

from __future__ import annotations

from datetime import date

from nameko.extensions import DependencyProvider

from services.intake.domain.requests import order_number
from services.intake.store import IntakeStore

BLOCK_SIZE = 20


class OrderNumbers:
    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size
        self._day_key: str | None = None
        self._free: list[int] = []

    def next(self, store: IntakeStore, branch: str, day: date) -> str:
        key = f"{branch}-{day:%Y%m%d}"
        if key != self._day_key:  # a new day or another branch: start a block there
            self._day_key, self._free = key, []
        if not self._free:
            top = store.reserve_sequence(key, self.block_size)
            if key == self._day_key:  # another greenthread may have switched days meanwhile
                self._free = list(range(top - self.block_size + 1, top + 1))
            else:
                return order_number(branch, day, top)
        return order_number(branch, day, self._free.pop(0))


class OrderNumbersProvider(DependencyProvider):
    """One allocator per branch for the container's lifetime."""

    def setup(self) -> None:
        self.allocators: dict[str, OrderNumbers] = {}

    def get_dependency(self, worker_ctx) -> dict[str, OrderNumbers]:
        return self.allocators
