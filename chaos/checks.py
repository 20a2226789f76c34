"""After a scenario: what became of every request, and whether the stores agree.

lost        acknowledged (or recovered) but no order holds its call id
duplicated  more than one order for one call id; an order of the run without a call id
            (every request of the load carries one); two orders, in intake or in
            dispatch, for the same request (same phone, unit, request type, description)
The invariants: every stored order reached dispatch exactly once; no technician's
counters disagree with the orders they hold; every outbox has drained; every
dead-lettered message carries its reason. And the run itself must have tested something:
enough requests acknowledged, and every fault struck while requests were in flight."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import requests
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from chaos.lifecycle import PART, Journey
from chaos.load import Attempt, Ledger
from chaos.windows import PROCESS, STORE, Window
from services.common.config import SERVICE_NAMES
from services.common.messaging import dead_letter_queue
from services.dispatch.domain.lifecycle import HELD_STATES

MET_COUNTER = "aftersales_milestone_met"  # driven orders reach their milestones in time
# Every request must be acknowledged in the end (on its first try or a retry). "Nothing
# lost" speaks only of acknowledged requests, so a refused request is one the run proves
# nothing about; and every fault is over before the retries, which go on for two minutes:
# a request still refused then means the system did not come back. CHAOS_MIN_ACKED lowers
# the share for a run that tolerates some.
MIN_ACKED_SHARE = 1.0
# Requests a fault's window must overlap. At 40 requests/s one or two are in flight at any
# instant, so five shows the fault met the load itself rather than brushing its last reply.
MIN_IN_FLIGHT = 5
# A milestone counted just before a kill (or a store fault) may be seen done by the driver
# only after its HTTP call timed out (10 s) and its next look (0.5 s) came back.
COUNT_SLACK_SECONDS = 15.0
# What two orders for one request share; each request of the load names its own unit.
# A follow-up carries its original's phone and unit but its own kind and description.
REQUEST_FIELDS = {"customer.phone": 1, "product.serial_number": 1, "product.category": 1,
                  "request_type": 1, "description": 1, "follow_up_of": 1,
                  "follow_up_kind": 1, "call_ids": 1}


@dataclass
class Verdict:
    counts: dict[str, int]
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.problems)


def classify(system, ledger: Ledger, seconds: float = 120,
             min_acked: float = MIN_ACKED_SHARE) -> Verdict:
    """Waits (up to ``seconds``) for what the feed's queue still holds to be taken."""
    verdict = Verdict(ledger.by_outcome())
    verdict.problems += acknowledged_problems(ledger, min_acked)
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
        orders = list(_find_in(intake, "product.serial_number", _serials(ledger),
                               REQUEST_FIELDS))
        found, problems = _dispatch_problems(system, client, ledger, orders)
        verdict.duplicated += found
        verdict.problems += problems
        # Read again once dispatch has caught up: an order intake wrote after the first
        # read (a request still queued then) is judged with the rest.
        orders = list(_find_in(intake, "product.serial_number", _serials(ledger),
                               REQUEST_FIELDS))
        verdict.duplicated += [f"intake: {d}" for d in intake_duplicates(orders)]
    finally:
        client.close()
    return verdict


def acknowledged_problems(ledger: Ledger, min_share: float = MIN_ACKED_SHARE) -> list[str]:
    """Too few requests acknowledged (first try or retry): the run proved too little."""
    sent = len(ledger.attempts)
    acked = sum(a.acked for a in ledger.attempts)
    if sent == 0:
        return ["no request was sent"]
    if acked >= min_share * sent:
        return []
    return [f"only {acked} of {sent} requests acknowledged (at least {min_share:.0%})"]


def _serials(ledger: Ledger) -> list[str]:
    return [a.body["product"]["serial_number"] for a in ledger.attempts]


def request_key(order: dict) -> tuple:
    """Which request an order answers: the customer's phone (its digits, as intake's open
    key reads it), the unit (serial, or category without one), the request's type and
    wording, and for a follow-up the order it follows and why."""
    phone = "".join(ch for ch in str(order.get("customer", {}).get("phone", ""))
                    if ch.isdigit())[-11:]
    product = order.get("product", {})
    unit = product.get("serial_number") or f"cat:{product.get('category')}"
    return (phone, unit, order.get("request_type"), order.get("description"),
            order.get("follow_up_of"), order.get("follow_up_kind"))


def intake_duplicates(orders: list[dict]) -> list[str]:
    """Intake's orders of the run that no request asked for once: a repeat of a request
    another order answers, or an order without a call id (every request of the load, and
    every follow-up, carries one)."""
    return duplicated_orders(orders) + [f"order {o['_id']} has no call id"
                                        for o in orders if not o.get("call_ids")]


def duplicated_orders(orders: Iterable[dict]) -> list[str]:
    """Every order made for a request another order already answers (whatever their ids
    and call ids: a second order for one call, made without its call id, is found too)."""
    first: dict[tuple, str] = {}
    found = []
    for order in sorted(orders, key=lambda o: o["_id"]):
        key = request_key(order)
        if key in first:
            found.append(f"order {order['_id']} repeats order {first[key]}")
        else:
            first[key] = order["_id"]
    return found


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


def _dispatch_problems(system, client, ledger: Ledger, intake_orders: list[dict],
                       seconds: float = 120) -> tuple[list[str], list[str]]:
    """Every order of the run reaches dispatch once (waiting for the queues to drain):
    the duplicated orders found there, and the other problems."""
    orders = system.db(client, "dispatch")["orders"]
    requests = system.db(client, "intake")["requests"]
    known = {o["_id"] for o in intake_orders} | {a.order_id for a in ledger.attempts
                                                 if a.order_id}
    deadline = time.monotonic() + seconds
    while True:  # by id (indexed) while waiting; by unit once, to find copies too
        # Intake's orders as they are now: one written since the last read (a request
        # still queued then, a follow-up) is intake's own and must reach dispatch too.
        expected = known | {o["_id"] for o in _find_in(requests, "product.serial_number",
                                                        _serials(ledger), {"_id": 1})}
        seen = {o["_id"] for o in _find_in(orders, "_id", list(expected), {"_id": 1})}
        if expected <= seen or time.monotonic() > deadline:
            break
        time.sleep(1)
    held = list(_find_in(orders, "product.serial_number", _serials(ledger), REQUEST_FIELDS))
    # Read once more: an order intake wrote after the last read may already be held.
    made = expected | {o["_id"] for o in _find_in(requests, "product.serial_number",
                                                  _serials(ledger), {"_id": 1})}
    return ([f"dispatch: {d}" for d in duplicated_orders(held)],
            dispatch_problems(expected, held, made))


def dispatch_problems(expected: set[str], held: list[dict],
                      made: set[str] | None = None) -> list[str]:
    """Orders of the run that never reached dispatch, and any dispatch holds that intake
    never made (a copy under an id of its own). ``made``: every order intake holds, read
    after ``held`` (defaults to ``expected``)."""
    ids = {o["_id"] for o in held}
    problems = []
    if missing := expected - ids:
        problems.append(f"{len(missing)} order(s) never reached dispatch: "
                        f"{', '.join(sorted(missing)[:5])}")
    if strangers := ids - (made or expected):
        problems.append(f"{len(strangers)} order(s) in dispatch that intake never made: "
                        f"{', '.join(sorted(strangers)[:5])}")
    return problems


def in_flight(attempts: Iterable[Attempt], start: float, end: float) -> int:
    """Requests in flight during [start, end]: some try of theirs was sent at or before the
    window's end and answered (acknowledged or failed) at or after its start."""
    return sum(any(t.sent_at <= end and t.answered_at >= start for t in a.tries)
               for a in attempts)


def window_problems(windows: list[Window], attempts: list[Attempt], expect_fault: bool,
                    min_in_flight: int = MIN_IN_FLIGHT) -> list[str]:
    """Each fault must have struck while requests were in flight: a fault before or after
    the load tests nothing."""
    if expect_fault and not windows:
        return ["the fault recorded no window"]
    zero = min((t.sent_at for a in attempts for t in a.tries), default=0.0)
    problems = []
    for window in windows:
        if window.end is None:
            problems.append(f"fault {window.label} never ended")
            continue
        count = in_flight(attempts, window.start, window.end)
        if count < min_in_flight:
            problems.append(f"fault {window.label} ({window.start - zero:.1f}-"
                            f"{window.end - zero:.1f} s) met {count} request(s) in flight, "
                            f"fewer than {min_in_flight}")
    return problems


def describe_windows(windows: list[Window], attempts: list[Attempt]) -> list[str]:
    """Each window, from the burst's first request, and the requests in flight in it."""
    zero = min((t.sent_at for a in attempts for t in a.tries), default=0.0)
    return [f"{w.label}: {w.start - zero:.1f}-{(w.end or w.start) - zero:.1f} s, "
            f"{in_flight(attempts, w.start, w.end or w.start)} in flight"
            for w in windows]


def invariants(system, seconds: float = 120) -> list[str]:
    """System-wide, once the load has stopped: counters, outboxes, dead letters."""
    client = system.client()
    try:
        problems = settled(lambda: _capacity_problems(system, client), seconds)
        problems += _outbox_problems(system, client, seconds)
    finally:
        client.close()
    return problems + dead_letter_problems(system)


def settled(check, seconds: float, pause: float = 2.0) -> list[str]:
    """A check's problems once it has had time to settle (offers in flight, periodic
    repairs): none as soon as one look finds none; otherwise, after ``seconds``, the
    problems the last two looks both found. The check reads several documents one after
    the other, so a look taken while something moves (a batch of offers lapsing) can see
    a moment's disagreement; a real one stays."""
    deadline = time.monotonic() + seconds
    previous: list[str] | None = None
    while problems := check():
        if previous is not None and time.monotonic() >= deadline:
            return [problem for problem in problems if problem in previous]
        previous = problems
        time.sleep(pause)
    return []


def _capacity_problems(system, client) -> list[str]:
    db = system.db(client, "dispatch")
    holding: dict[str, set[str]] = defaultdict(set)
    for order in db["orders"].find({"status": {"$in": list(HELD_STATES)}},
                                   {"technician_id": 1, "offer": 1, "status": 1}):
        tech = order.get("technician_id") or (order.get("offer") or {}).get("technician_id")
        offered_to = (order.get("offer") or {}).get("technician_id")
        if order.get("technician_id") and offered_to and offered_to != order["technician_id"]:
            return [f"order {order['_id']} held by {order['technician_id']} and offered to "
                    f"{offered_to}"]
        holding[tech].add(order["_id"])
    return [problem for tech in db["technicians"].find(
        {}, {"active_jobs": 1, "free_slots": 1, "cap": 1, "holding": 1})
        for problem in slot_problems(tech, holding.get(tech["_id"], set()))]


def slot_problems(tech: dict, held: set[str]) -> list[str]:
    """A technician's counters and named slots against the orders that hold them."""
    problems = []
    if tech.get("active_jobs", 0) != len(held):
        problems.append(f"technician {tech['_id']} counts {tech.get('active_jobs')} jobs "
                        f"but holds {len(held)}")
    if set(tech.get("holding", ())) != held:
        problems.append(f"technician {tech['_id']} has slots for "
                        f"{sorted(set(tech.get('holding', ())))[:5]} but holds "
                        f"{sorted(held)[:5]}")
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
        return settled(lambda: _downstream(system, client, journeys), seconds)
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


class Reading(NamedTuple):
    count: float  # milestones counted as met by one dispatch replica, so far
    pid: int | None  # the replica's process: another one counts from zero again


def counter_readings(system) -> dict[str, Reading]:
    """Each dispatch replica's met counter, with the process that counted it."""
    pids = dict(zip(system.metrics_urls("dispatch"), system.pids("dispatch"), strict=False))
    counted = outcome_counts(list(pids))
    return {url: Reading(count, pids[url]) for url, count in counted.items()}


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


def counted_rise(readings: list[dict[str, Reading]]) -> float:
    """What the replicas counted across readings in time order (the first before the
    burst, the last after it, between them those taken just before a kill). A replica's
    count restarts from zero in a new process, so what it counted before dying is the
    rise up to its last reading. A replica is counted from the first reading it answered."""
    rose = 0.0
    for url in {url for reading in readings for url in reading}:
        seen = [reading[url] for reading in readings if url in reading]
        for then, now in zip(seen, seen[1:], strict=False):
            restarted = now.pid != then.pid or now.count < then.count
            rose += now.count if restarted else now.count - then.count
    return rose


def may_go_uncounted(journeys: Iterable[Journey], windows: Iterable[Window],
                     dispatch_restarted: bool, slack: float = COUNT_SLACK_SECONDS) -> int:
    """Milestones whose count a fault may have lost: those seen reached from the start of a
    window that may lose counts to ``slack`` seconds after the last moment it could (its
    kill, or its end). A count dies with a process only: windows that lose counts that way
    lose none if no dispatch replica restarted."""
    spans = [(w.start, (w.lost_by or w.end or w.start) + slack) for w in windows
             if w.loses_counts == STORE or (w.loses_counts == PROCESS and dispatch_restarted)]
    return sum(any(start <= at <= end for start, end in spans)
               for journey in journeys for at in journey.reached_at)


def outcome_problems(readings: list[dict[str, Reading]], reached: int,
                     may_miss: int = 0) -> list[str]:
    """Each milestone reached is counted once: the replicas' counters rose by exactly the
    milestones reached, never more; and by no fewer than those reached outside the faults'
    reach — ``may_miss`` milestones were reached near a window in which a count could be
    lost (a dispatch replica died with its counters, or the store applied a write whose
    reply it lost, so the step failed uncounted and its retry found it done). What a
    killed replica counted before its kill is in the reading taken just before it."""
    rose = counted_rise(readings)
    floor = reached - may_miss
    if floor <= rose <= reached:
        return []
    expected = f"{reached}" if may_miss == 0 else f"{floor} to {reached}"
    restarts = restarted(readings)
    return [f"commitment outcomes counted {rose:g} times for {reached} milestones reached "
            f"(expected {expected})"
            + (f"; restarted: {', '.join(restarts)}" if restarts else "")]


def outcome_summary(readings: list[dict[str, Reading]], reached: int,
                    may_miss: int = 0) -> str:
    restarts = restarted(readings)
    return (f"milestones reached {reached}, counted {counted_rise(readings):g}, "
            f"at least {reached - may_miss} required"
            + (f"; dispatch restarted: {', '.join(restarts)}" if restarts else ""))


def restarted(readings: list[dict[str, Reading]]) -> list[str]:
    """The replicas whose process changed between readings (a kill, or a crash)."""
    return sorted({url for then, now in zip(readings, readings[1:], strict=False)
                   for url in then.keys() & now.keys() if then[url].pid != now[url].pid})
