"""The rest of an order's life, driven through the gateway while the burst and its fault
run: a share of the orders is accepted, visited and completed (by dispatchers, on the
technician's behalf), and each completion's callback is answered — satisfied,
dissatisfied or not fixed in turn — so that reservations and their consumption, bills,
settlements, callback tasks, complaints and repeat-repair orders are all made while the
fault strikes. On site, each driven order asks for one ignition part (reserved where it
is held: chaos technicians have no vans), and its completion reports the part used.

Every step is retried until it is seen done: a step whose answer was lost is found
applied (the order or task is already past it), never applied twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from chaos.load import Ledger

DISPATCHER = {"Authorization": "Bearer demo-dispatcher-sh"}
CALLBACK_STAFF = {"Authorization": "Bearer demo-callback-sh"}
# The action, and the statuses that show it done (a later step may already have run).
STEPS = (("accept", ("accepted", "contacted", "on_site", "completed", "closed")),
         ("contact", ("contacted", "on_site", "completed", "closed")),
         ("check-in", ("on_site", "completed", "closed")),
         ("complete", ("completed", "closed")))
MILESTONE_STEPS = ("contact", "check-in", "complete")
PART = "GWH-IGN-01"
PARTS = [{"sku": PART, "quantity": 1}]
COMPLETION = {"diagnosis": "点火器故障", "fault_code": "E1", "repair_done": "更换点火器",
              "cause": "quality_failure", "repair_code": "IGN", "parts_used": PARTS,
              "old_parts_returned": PARTS}  # in warranty: bill 0.00
ANSWERS = {
    "satisfied": {"fixed": True, "satisfaction": 5, "attitude": 5},
    "dissatisfied": {"fixed": True, "satisfaction": 1, "attitude": 2},
    "not_fixed": {"fixed": False, "satisfaction": 3, "attitude": 4},
}
DRIVEN_CATEGORY = "gas_water_heater"  # the completion above is a gas heater's repair
WORKERS = 16  # journeys under way at once: each mostly waits on HTTP answers


@dataclass
class Journey:
    order_id: str
    answer: str
    # When each commitment milestone (contact, arrival, resolution) was seen reached, on
    # time.monotonic(): a count lost to a fault can only be one reached near its window.
    reached_at: list[float] = field(default_factory=list)
    completed: bool = False
    answered: bool = False
    stuck: str | None = None  # the step that never got done

    @property
    def reached(self) -> int:
        return len(self.reached_at)


@dataclass
class Lifecycle:
    api: str
    ledger: Ledger
    every: int = 4  # drive one in ``every`` of the gateway's gas-heater orders
    seconds: float = 300  # how long each step is retried, and the journeys after the burst
    journeys: list[Journey] = field(default_factory=list)
    _give_up_at: float = float("inf")  # set when the burst is over

    def run(self, burst_done: threading.Event) -> None:
        """Until the burst is over, pick up newly acknowledged orders and drive them; then
        give the journeys under way ``seconds`` more to finish."""
        taken: set[str] = set()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            while True:
                finished = burst_done.is_set()
                for journey in self._new_journeys(taken):
                    pool.submit(self._drive_safely, journey)
                if finished:
                    self._give_up_at = time.monotonic() + self.seconds
                    break
                time.sleep(0.5)

    def _new_journeys(self, taken: set[str]) -> list[Journey]:
        chosen = [a for a in self.ledger.attempts
                  if a.channel == "gateway" and a.order_id and a.order_id not in taken
                  and a.body["product"]["category"] == DRIVEN_CATEGORY]
        new = []
        for attempt in chosen:
            taken.add(attempt.order_id)
            if len(taken) % self.every == 1 or self.every == 1:
                answer = list(ANSWERS)[len(self.journeys) % len(ANSWERS)]
                new.append(Journey(attempt.order_id, answer))
                self.journeys.append(new[-1])
        return new

    def _drive_safely(self, journey: Journey) -> None:
        """A journey that breaks is reported as stuck, never silently left out."""
        try:
            self._drive(journey)
        except Exception as exc:  # noqa: BLE001 - any failure is a finding to report
            journey.stuck = f"an error: {exc!r}"[:200]

    def _drive(self, journey: Journey) -> None:
        if time.monotonic() >= self._give_up_at:
            journey.stuck = "the start (the driver ran out of time first)"
            return
        order = f"{self.api}/api/v1/orders/{journey.order_id}"
        if not self._until(lambda: self._status(order) in ("offered", *STEPS[0][1])):
            journey.stuck = "offered"
            return
        for action, done in STEPS:
            if action == "complete" and not self._until(lambda: self._reserve(order)):
                journey.stuck = "parts"
                return
            body = COMPLETION if action == "complete" else {}
            if not self._until(lambda a=action, b=body, d=done: self._step(order, a, b, d)):
                journey.stuck = action
                return
            if action in MILESTONE_STEPS:
                journey.reached_at.append(time.monotonic())
        journey.completed = True
        task = f"{self.api}/api/v1/callbacks/tasks/CB-{journey.order_id}"
        answers = {"reached": True, "on_time": True, "paid": "0.00", **ANSWERS[journey.answer]}
        if not self._until(lambda: self._answer(task, answers)):
            journey.stuck = "callback"
            return
        journey.answered = True

    def _until(self, done: Callable[[], bool]) -> bool:
        deadline = min(time.monotonic() + self.seconds, self._give_up_at)
        while time.monotonic() < min(deadline, self._give_up_at):
            try:
                if done():
                    return True
            except requests.RequestException:
                pass  # the gateway is restarting, or the answer was lost: look again
            time.sleep(0.5)
        return False

    def _status(self, order: str) -> str | None:
        response = requests.get(order, headers=DISPATCHER, timeout=10)
        return response.json()["status"] if response.status_code == 200 else None

    def _step(self, order: str, action: str, body: dict, done: tuple[str, ...]) -> bool:
        if self._status(order) in done:
            return True
        response = requests.post(f"{order}/{action}", json=body, headers=DISPATCHER,
                                 timeout=10)
        return response.status_code == 200

    def _reserve(self, order: str) -> bool:
        """The part held for the order (a retry names the same request: no second hold)."""
        if self._status(order) in STEPS[-1][1]:
            return True
        request_id = "chaos-" + order.rsplit("/", 1)[-1].replace("-", "")
        response = requests.post(f"{order}/parts-request", headers=DISPATCHER, timeout=10,
                                 json={"parts": PARTS, "request_id": request_id})
        return response.status_code == 200 and all(
            line["state"] == "reserved" for line in response.json()["lines"])

    def _answer(self, task: str, answers: dict) -> bool:
        seen = requests.get(task, headers=CALLBACK_STAFF, timeout=10)
        if seen.status_code != 200:
            return False  # the completion's event has not made the task yet
        if seen.json()["status"] != "open":
            return True  # answered by an earlier try whose reply was lost
        claimed = requests.post(f"{task}/claim", json={}, headers=CALLBACK_STAFF, timeout=10)
        if claimed.status_code != 200:
            return False
        called = requests.post(f"{task}/call", json=answers, headers=CALLBACK_STAFF,
                               timeout=10)
        return called.status_code == 200
