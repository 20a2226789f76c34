"""After a scenario: what became of every request, and whether the stores agree.

lost        acknowledged (or recovered) but no order holds its call id
duplicated  more than one order for one call id, or one order twice in dispatch
The invariants: every stored order reached dispatch exactly once; no technician's
counters disagree with the orders they hold; every outbox has drained; every
dead-lettered message carries its reason."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import requests
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from chaos.lifecycle import PART
from chaos.load import Ledger
from services.common.config import SERVICE_NAMES
from services.common.messaging import dead_letter_queue
from services.dispatch.domain.lifecycle import HELD_STATES

MET_COUNTER = "aftersales_milestone_met"  # driven orders reach their milestones in time


@dataclass
class Verdict:
    counts: dict[str, int]
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.problems)


def classify(system, ledger: Ledger, seconds: float = 120) -> Verdict:
    """Waits (up to ``seconds``) for what the feed's queue still holds to be taken."""
    verdict = Verdict(ledger.by_outcome())
    client = system.client()
    try:
        intake = system.db(client, "intake")["requests"]
        deadline = time.monotonic() + seconds
        while True:
            held, order_of = _held(intake, [a.call_id for a in ledger.attempts])
            missing = [a for a in ledger.attempts if a.acked and not held.get(a.call_id)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1)
        verdict.lost = [a.call_id for a in missing]
        verdict.duplicated = [a.call_id for a in ledger.attempts if held.get(a.call_id, 0) > 1]
        for attempt in ledger.attempts:
            if attempt.order_id is None:  # sent through the feed
                attempt.order_id = order_of.get(attempt.call_id)
        verdict.problems += _dispatch_problems(system, client, ledger)
    finally:
        client.close()
    return verdict


def _held(intake, call_ids: list[str]) -> tuple[Counter, dict[str, str]]:
    """How many orders hold each call id, and the order holding it."""
    held: Counter = Counter()
    order_of: dict[str, str] = {}
    for doc in _find_in(intake, "call_ids", call_ids, {"call_ids": 1}):
        for call_id in doc["call_ids"]:
            held[call_id] += 1
            order_of[call_id] = doc["_id"]
    return held, order_of


def _find_in(collection, field_name: str, values: list, projection: dict,
             chunk: int = 200):
    """``$in`` in small chunks: a long ``$in`` list is slow on the embedded store."""
    for start in range(0, len(values), chunk):
        yield from collection.find({field_name: {"$in": values[start:start + chunk]}},
                                   projection)


def _dispatch_problems(system, client, ledger: Ledger, seconds: float = 120) -> list[str]:
    """Every acknowledged order reaches dispatch once (waiting for the queues to drain)."""
    order_ids = {a.order_id for a in ledger.attempts if a.order_id}
    orders = system.db(client, "dispatch")["orders"]
    deadline = time.monotonic() + seconds
    while True:
        seen = Counter(doc["_id"] for doc in _find_in(orders, "_id", list(order_ids),
                                                      {"_id": 1}))
        missing = order_ids - set(seen)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    problems = [f"{len(missing)} order(s) never reached dispatch"] if missing else []
    twice = [order_id for order_id, n in seen.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} order(s) twice in dispatch")
    return problems


def invariants(system, seconds: float = 120) -> list[str]:
    """System-wide, once the load has stopped: counters, outboxes, dead letters."""
    client = system.client()
    try:
        problems = _settled(lambda: _capacity_problems(system, client), seconds)
        problems += _outbox_problems(system, client, seconds)
    finally:
        client.close()
    return problems + dead_letter_problems(system)


def _settled(check, seconds: float) -> list[str]:
    """A check's problems once it has had time to settle (offers in flight, periodic
    repairs), or what remains after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (problems := check()) and time.monotonic() < deadline:
        time.sleep(2)
    return problems


def _capacity_problems(system, client) -> list[str]:
    db = system.db(client, "dispatch")
    holding = Counter()
    for order in db["orders"].find({"status": {"$in": list(HELD_STATES)}},
                                   {"technician_id": 1, "offer": 1, "status": 1}):
        tech = order.get("technician_id") or (order.get("offer") or {}).get("technician_id")
        offered_to = (order.get("offer") or {}).get("technician_id")
        if order.get("technician_id") and offered_to and offered_to != order["technician_id"]:
            return [f"order {order['_id']} held by {order['technician_id']} and offered to "
                    f"{offered_to}"]
        holding[tech] += 1
    problems = []
    for tech in db["technicians"].find({}, {"active_jobs": 1, "free_slots": 1, "cap": 1}):
        if tech.get("active_jobs", 0) != holding.get(tech["_id"], 0):
            problems.append(f"technician {tech['_id']} counts {tech.get('active_jobs')} jobs "
                            f"but holds {holding.get(tech['_id'], 0)}")
        if tech.get("free_slots") != tech["cap"] - tech.get("active_jobs", 0):
            problems.append(f"technician {tech['_id']} free slots disagree with its jobs")
    return problems


def _outbox_problems(system, client, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        stuck = {}
        for service in SERVICE_NAMES:
            db = system.db(client, service)
            for name in db.list_collection_names():
                count = db[name].count_documents({"outbox.0": {"$exists": True}})
                if count:
                    stuck[f"{service}.{name}"] = count
        if not stuck or time.monotonic() > deadline:
            break
        time.sleep(1)
    return [f"outbox not drained: {where} holds {n}" for where, n in stuck.items()]


def dead_letters(system) -> dict[str, list[dict]]:
    """Every dead-lettered message, by service, read and put back."""
    found: dict[str, list[dict]] = {}
    with Connection(system.broker.uri, connect_timeout=10) as conn:
        channel = conn.channel()
        for service in SERVICE_NAMES:
            queue = dead_letter_queue(service)(channel)
            queue.declare()
            messages = []
            while (message := queue.get(no_ack=False)) is not None:
                messages.append(message)
            found[service] = [dict(message.headers or {}) for message in messages]
            for message in messages:
                message.requeue()
    return found


def dead_letter_problems(system) -> list[str]:
    return [f"dead letter in {service} without a reason"
            for service, headers in dead_letters(system).items()
            for h in headers if not h.get("x-failure-reason")]


def downstream_problems(system, journeys, seconds: float = 120) -> list[str]:
    """What the driven orders' events made, once each: one reservation of the part and
    its consumption, a bill and the centre's earning, one callback task; then per answer,
    the closed order and the released earning, one complaint, or one repeat-repair order
    that reached dispatch."""
    client = system.client()
    try:
        return _settled(lambda: _downstream(system, client, journeys), seconds)
    finally:
        client.close()


def _downstream(system, client, journeys) -> list[str]:
    dbs = {name: system.db(client, name) for name in SERVICE_NAMES}
    problems = [f"order {j.order_id} never got past {j.stuck}" for j in journeys if j.stuck]
    movements = _part_movements(dbs["inventory"])
    for journey in (j for j in journeys if j.completed):
        order_id = journey.order_id
        if movements.get(order_id) != {"reserve": 1, "consume": 1}:
            problems.append(f"order {order_id}: part movements {movements.get(order_id)}, "
                            "expected one reserve and one consume")
        expected = {("billing", "bills", "order_id"): 1, ("billing", "earnings", "_id"): 1,
                    ("callbacks", "tasks", "order_id"): 1 + (journey.answer != "satisfied"),
                    ("complaints", "complaints", "order_ids"):
                        int(journey.answer == "dissatisfied"),
                    ("intake", "requests", "follow_up_of"): int(journey.answer == "not_fixed")}
        if not journey.answered:
            expected = dict(list(expected.items())[:2])
            expected[("callbacks", "tasks", "order_id")] = 1
        for (service, collection, key), count in expected.items():
            found = dbs[service][collection].count_documents({key: order_id})
            if found != count:
                problems.append(f"order {order_id}: {found} {service}.{collection}, "
                                f"expected {count}")
        if journey.answered:
            problems += _answer_problems(dbs, journey)
    return problems


def _part_movements(inventory) -> dict[str, Counter]:
    """The driven part's ledger entries, by order and kind, across its locations."""
    moved: dict[str, Counter] = {}
    for doc in inventory["stock"].find({"sku": PART}, {"ledger.order_id": 1,
                                                      "ledger.kind": 1}):
        for entry in doc.get("ledger", []):
            if entry.get("order_id"):
                moved.setdefault(entry["order_id"], Counter())[entry["kind"]] += 1
    return moved


def _answer_problems(dbs, journey) -> list[str]:
    order_id = journey.order_id
    if journey.answer == "satisfied":
        order = dbs["dispatch"]["orders"].find_one({"_id": order_id}, {"status": 1}) or {}
        earning = dbs["billing"]["earnings"].find_one({"_id": order_id}, {"state": 1}) or {}
        if (order.get("status"), earning.get("state")) != ("closed", "released"):
            return [f"order {order_id} satisfied but {order.get('status')}, earning "
                    f"{earning.get('state')}"]
    if journey.answer == "not_fixed":
        follow_up = dbs["intake"]["requests"].find_one({"follow_up_of": order_id}, {"_id": 1})
        if follow_up and not dbs["dispatch"]["orders"].count_documents(
                {"_id": follow_up["_id"]}):
            return [f"repeat repair {follow_up['_id']} never reached dispatch"]
    return []


def outcome_counts(urls: list[str]) -> dict[str, float]:
    """Milestones counted as met so far, per dispatch replica's /metrics (the sweeper's
    breaches of orders nobody drives would blur the comparison)."""
    counted = {}
    for url in urls:
        try:
            text = requests.get(url, timeout=10).text
        except requests.RequestException:
            continue  # a replica being restarted: its count restarts from zero
        counted[url] = sum(sample.value for family in text_string_to_metric_families(text)
                           if family.name == MET_COUNTER for sample in family.samples
                           if sample.name.endswith("_total"))
    return counted


def outcome_problems(before: dict[str, float], after: dict[str, float], reached: int,
                     may_miss: bool) -> list[str]:
    """Each milestone reached is counted once: the replicas' counters rose by exactly the
    milestones reached — or by no more, when a count may have been missed (a replica died
    and its counter restarted from zero, or the store applied a write whose reply it lost,
    so the step failed uncounted and its retry found it done). A replica not read both
    times is left out."""
    rose = 0.0
    for url in before.keys() & after.keys():
        then, now = before[url], after[url]
        rose += now - then if now >= then else now  # a restarted replica counts from zero
    if rose == reached or (may_miss and rose < reached):
        return []
    return [f"commitment outcomes counted {rose:g} times for {reached} milestones reached"]
