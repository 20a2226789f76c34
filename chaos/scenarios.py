"""The faults, each run while a burst of requests is under way. Each records its
windows (from when it strikes to when the system is whole again) in the FaultLog it is
given, and fits what it does into the burst still to come (``log.left()``), so that the
checker can prove it met requests in flight."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from kombu import Connection

from chaos.cluster import BrokerCluster
from chaos.windows import PROCESS, STORE, FaultLog, Window
from services.common.config import SERVICE_NAMES
from services.common.faults import KILL_AFTER_PUBLISH_VAR
from services.common.messaging import dead_letter_queue_name, event_exchange, queue_depths
from services.common.outbox import new_event
from services.common.routes import SUBSCRIPTIONS

Fault = Callable[["object", FaultLog], None]  # takes the ChaosSystem and the log
LOAD_SHARE = 0.8  # faults spread over this share of the burst still to come, so the last
#                  one still meets a fifth of it


def no_fault(system, log: FaultLog) -> None:
    """The same burst with nothing failing: the reference row."""


# A broker outage may take a service process with it: an event handler that finishes
# after its connection died fails to acknowledge, and nameko's container exits on that
# error (the keeper restarts it, the message is delivered again). A dispatch replica's
# counters go with it, so these windows may lose counts that way.
BROKER_LOSES_COUNTS = PROCESS


def broker_stop_start_app(system, log: FaultLog) -> None:
    with log.window("broker stop_app/start_app", BROKER_LOSES_COUNTS):
        system.broker.stop_app()
        time.sleep(5)
        system.broker.start_app()


def broker_full_restart(system, log: FaultLog) -> None:
    with log.window("broker restart", BROKER_LOSES_COUNTS):
        system.broker.restart()


def _kill(system, log: FaultLog, key: str) -> threading.Thread:
    """kill -9 of one process; its window stays open until the keeper's replacement
    answers /health (closed by the returned thread). A dispatch replica's counters are
    read as its window opens: what it counted until then is not lost with it."""
    window = log.open(f"kill -9 {key}", PROCESS if key.startswith("dispatch#") else None)
    old_pid = system.supervisor.children[key].pid
    system.supervisor.kill(key)
    window.lost_by = time.monotonic()
    waiter = threading.Thread(target=_close_when_replaced,
                              args=(system, log, window, key, old_pid))
    waiter.start()
    return waiter


def _close_when_replaced(system, log: FaultLog, window: Window, key: str,
                         old_pid: int) -> None:
    """If the replacement never serves, the window stays open and the checker reports a
    fault that never ended."""
    if _replaced(system, key, old_pid):
        log.close(window)


def _replaced(system, key: str, old_pid: int, seconds: float = 120) -> bool:
    """Until a new process for ``key`` answers /health (False after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        process = system.supervisor.children.get(key)
        if process is not None and process.pid != old_pid and _healthy(system.health_url(key)):
            return True
        time.sleep(0.2)
    return False


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def kill_each_service(system, log: FaultLog) -> None:
    """kill -9 of one replica of every process in turn, the kills spread over the burst
    still to come (each replacement may still be starting when the next kill comes: the
    other replica serves meanwhile); the keeper restarts each."""
    names = (*SERVICE_NAMES, "gateway")
    start = time.monotonic()
    gap = log.left() * LOAD_SHARE / len(names)
    waiters = []
    for index, name in enumerate(names):
        # On a fixed timetable: a kill that took long (reading dispatch's counters on a
        # loaded machine) must not push the later ones past the burst.
        time.sleep(max(0.0, start + index * gap - time.monotonic()))
        waiters.append(_kill(system, log, system.processes(name)[0]))
    for waiter in waiters:
        waiter.join()


def kill_relay_between_publish_and_mark(system, log: FaultLog, seconds: float = 15) -> None:
    """For a while (at most ``seconds``, within the burst), the first replicas of intake
    and dispatch die (kill -9) after 5 % of their confirmed publishes, before marking them
    sent; restarted, they die again. One window: from the first kill until healthy
    replacements serve again."""
    seconds = min(seconds, max(3.0, log.left() * LOAD_SHARE))
    window = log.open("kill -9 relay after publish", PROCESS)
    keys = [system.processes(name)[0] for name in ("intake", "dispatch")]
    system.supervisor.env[KILL_AFTER_PUBLISH_VAR] = "0.05"
    try:
        for key in keys:
            system.supervisor.kill(key)
        time.sleep(seconds)
    finally:
        system.supervisor.env.pop(KILL_AFTER_PUBLISH_VAR, None)
        old = {key: system.supervisor.children[key].pid for key in keys}
        for key in keys:  # back to healthy processes
            _kill_if_alive(system, key)
    if all(_replaced(system, key, old[key]) for key in keys):
        log.close(window)


def _kill_if_alive(system, key: str) -> None:
    """A process that killed itself is restarted by the keeper, healthy, anyway."""
    with contextlib.suppress(ProcessLookupError):
        system.supervisor.kill(key)


def _fail_point(system, mode, data: dict) -> None:
    client = system.client()
    try:
        client.admin.command({"configureFailPoint": "failCommand", "mode": mode,
                              "data": data})
    finally:
        client.close()


def store_fails_writes(system, log: FaultLog, seconds: float = 4) -> None:
    """Every insert and update fails for a few seconds (a primary stepping down)."""
    failing = {"failCommands": ["insert", "update", "findAndModify"],
               "errorCode": 11602}  # InterruptedDueToReplStateChange
    with log.window("store fails writes", STORE):
        _fail_point(system, "alwaysOn", failing)
        time.sleep(seconds)
        _fail_point(system, "off", {})


def store_restart(system, log: FaultLog) -> None:
    with log.window("store restart", STORE):
        system.restart_store()


def slow_handlers(system, log: FaultLog) -> None:
    """Inserts block for longer than two heartbeat intervals: RPC and event handlers run
    long while their connections must stay alive, and each effect still happens once. The
    next six inserts block: under load they come at once, so the window is one block."""
    block_ms = int(system.settings["HEARTBEAT"] * 2.5 * 1000)
    start = time.monotonic()
    _fail_point(system, {"times": 6}, {"failCommands": ["insert"], "blockConnection": True,
                                       "blockTimeMS": block_ms})
    log.record("6 inserts blocked", start, time.monotonic() + block_ms / 1000)


def poison_messages(system, log: FaultLog, seconds: float = 60) -> None:
    """Into every consumed queue: a body that is not JSON, an envelope that breaks the
    contract, and a well-formed event about an order nobody knows (retried until the
    delivery limit). Each must end in the consumer's dead-letter queue, with a reason.
    The window lasts until the first two of each queue are dead-lettered (the third may
    be taken as a no-op): the consumers handled poison alongside the load until then."""
    queues = {dead_letter_queue_name(sub.service) for sub in SUBSCRIPTIONS}
    expected = {name: 2 * sum(dead_letter_queue_name(sub.service) == name
                              for sub in SUBSCRIPTIONS) for name in queues}
    before = queue_depths(system.broker.uri, sorted(queues))
    with log.window("poison messages"):
        _publish_poison(system)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = queue_depths(system.broker.uri, sorted(queues))
            if all(now.get(q, 0) - before.get(q, 0) >= n for q, n in expected.items()):
                break
            time.sleep(0.5)


def _publish_poison(system) -> None:
    with Connection(system.broker.uri, connect_timeout=10,
                    transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for sub in SUBSCRIPTIONS:
            exchange = event_exchange(sub.source)
            producer.publish(b"\xff\x00 not json", exchange=exchange,
                             routing_key=sub.event_type, content_type="application/json",
                             content_encoding="binary", delivery_mode=2)
            producer.publish(json.dumps({"type": sub.event_type, "data": "nonsense"}),
                             exchange=exchange, routing_key=sub.event_type,
                             content_type="application/json", delivery_mode=2)
            event = new_event(sub.event_type, sub.source, "SH",
                              {"order_id": "SH-20000101-999999"}, datetime.now(UTC))
            producer.publish(json.dumps(event), exchange=exchange,
                             routing_key=sub.event_type, content_type="application/json",
                             delivery_mode=2)


def kill_a_cluster_node(system, log: FaultLog, down: float = 5) -> None:
    """kill -9 of the cluster node every client is connected to (the first the URI
    names), during the burst; after ``down`` seconds (or less, within the burst) it is
    started again on its own data and rejoins. Clients move to the next node; the quorum
    queues elect new leaders, the mirrored classic queues promote a mirror."""
    cluster = system.broker
    if not isinstance(cluster, BrokerCluster):
        raise TypeError("this scenario needs a system on a BrokerCluster")
    with log.window("kill -9 broker node 1 of 3, until it rejoined",
                    BROKER_LOSES_COUNTS):
        cluster.kill(0)
        time.sleep(min(down, log.left() * LOAD_SHARE))
        cluster.revive(0)


SCENARIOS: dict[str, Fault] = {
    "no fault": no_fault,
    "broker stop_app/start_app": broker_stop_start_app,
    "broker full restart": broker_full_restart,
    "kill -9 each service": kill_each_service,
    "kill -9 relay after publish": kill_relay_between_publish_and_mark,
    "store fails writes": store_fails_writes,
    "store restart": store_restart,
    "poison messages": poison_messages,
    "slow handlers": slow_handlers,
}
# Run on a system of their own, on a three-node cluster (see run.py).
CLUSTER_SCENARIOS: dict[str, Fault] = {
    "broker cluster: kill -9 a node": kill_a_cluster_node,
}
