"""Who consumes which event: the one table of routes.

Consumers' queues are named from it and publishers declare those queues at start-up, so
no event is published into the void; a service writes to its outbox only the kinds some
consumer subscribes to. Each event's data contract is in ``schemas/events.py`` or the
producer's own schema module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    service: str
    method: str

    @property
    def queue_name(self) -> str:  # nameko's SERVICE_POOL naming
        return f"evt-{self.source}-{self.event_type}--{self.service}.{self.method}"


SUBSCRIPTIONS: list[Subscription] = [
    Subscription("intake", "order_created", "dispatch", "on_order_created"),
    Subscription("dispatch", "order_completed", "intake", "on_order_completed"),
    Subscription("dispatch", "order_cancelled", "intake", "on_order_cancelled"),
    Subscription("intake", "reminder_received", "dispatch", "on_reminder_received"),
    Subscription("intake", "complaint_received", "complaints", "on_complaint_received"),
    Subscription("callbacks", "callback_done", "intake", "on_callback_done"),
    Subscription("complaints", "reservice_requested", "intake", "on_reservice_requested"),
    # complaints: unhappy callbacks open complaints; completions feed the complaint rate
    Subscription("callbacks", "callback_done", "complaints", "on_callback_done"),
    Subscription("dispatch", "order_completed", "complaints", "on_order_completed"),
]

# Parts for jobs: inventory consumes completions; dispatch pauses and resumes orders.
SUBSCRIPTIONS += [
    Subscription("dispatch", "order_completed", "inventory", "on_order_completed"),
    Subscription("dispatch", "order_cancelled", "inventory", "on_order_cancelled"),
    Subscription("inventory", "parts_short", "dispatch", "on_parts_short"),
    Subscription("inventory", "parts_arrived", "dispatch", "on_parts_arrived"),
    # callbacks (回访): tasks from completions, billed totals, second follow-ups; closing
    Subscription("dispatch", "order_completed", "callbacks", "on_order_completed"),
    Subscription("billing", "bill_settled", "callbacks", "on_bill_settled"),
    Subscription("complaints", "complaint_opened", "callbacks", "on_complaint_opened"),
    Subscription("callbacks", "callback_done", "dispatch", "on_callback_done"),
]

# Billing: order facts for quotes, the bill at completion, and what inventory, callbacks
# and complaints report about money.
SUBSCRIPTIONS += [
    Subscription("intake", "order_created", "billing", "on_order_created"),
    Subscription("dispatch", "order_completed", "billing", "on_order_completed"),
    Subscription("inventory", "parts_consumed", "billing", "on_parts_consumed"),
    Subscription("callbacks", "callback_done", "billing", "on_callback_done"),
    Subscription("complaints", "refund_requested", "billing", "on_refund_requested"),
]

# cannot_fix: the exchange or refund owed opens an escalation the dispatcher sees, until
# the case that settles it (三包) has its own consumer.
SUBSCRIPTIONS += [
    Subscription("dispatch", "exchange_requested", "dispatch", "on_exchange_requested"),
]

# Complaints show on the orders they concern (the dispatcher's and supervisor's view).
SUBSCRIPTIONS += [
    Subscription("complaints", "complaint_opened", "dispatch", "on_complaint_opened"),
    Subscription("complaints", "complaint_escalated", "dispatch", "on_complaint_escalated"),
]

# Events a service states that no service of ours consumes: facts for listeners outside
# the system (a notifier, a data feed) or for a consumer still to come. Declared here so
# an unconsumed event is a decision, not an accident (tests/unit/test_event_consumers.py
# fails on one that is neither routed nor listed). The outbox carries an event only once
# a route above names it (UnitOfWork.routed): until then they are not on the broker
# (dispatch's steps are on the order's timeline all the same).
NOTIFICATIONS: frozenset[tuple[str, str]] = frozenset({
    # dispatch: each step of an order, for a customer notifier (short message, app push)
    ("dispatch", "order_offered"),
    ("dispatch", "order_accepted"),
    ("dispatch", "order_contacted"),
    ("dispatch", "order_scheduled"),
    ("dispatch", "appointment_reminder_due"),  # the day before: remind, ask to reconfirm
    ("dispatch", "order_arrived"),
    ("dispatch", "order_left"),
    ("dispatch", "order_waiting_parts"),
    ("dispatch", "order_resumed"),
    ("dispatch", "order_escalated"),
    ("dispatch", "order_closed"),
    ("dispatch", "milestone_breached"),
    # billing and inventory: for the finance and purchasing teams' feeds
    ("billing", "charge_anomaly"),
    ("inventory", "stock_low"),
})
