"""The dispatcher: offers orders to technicians and moves them through their lifecycle.

Application layer over the store and the pure rules; knows nothing of nameko. Its sections
are modules of their own: offering.py (creating and offering orders), steps.py (people's
steps), inbound.py (other services' events), upkeep.py (the timers' work), on base.py (the
shared state and the one way an order is written). What a call writes and reaches is
gathered in its unit of work, for the service to relay and count.
"""

from __future__ import annotations

from services.dispatch.base import Actor, DispatcherBase
from services.dispatch.inbound import InboundEvents
from services.dispatch.offering import Offering
from services.dispatch.steps import Steps
from services.dispatch.upkeep import Upkeep

__all__ = ["Actor", "Dispatcher"]


class Dispatcher(Offering, Steps, InboundEvents, Upkeep, DispatcherBase):
    """The dispatcher, its sections in their own modules."""
