"""The chaos suite: the whole system under faults, every request classified, every
downstream invariant checked. ``make chaos`` runs it in full; ``make test`` runs a
shortened form (tests/chaos)."""
