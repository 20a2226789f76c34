"""The faults, each run while a burst of requests is under way."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kombu import Connection

from schemas.events import SUBSCRIPTIONS
from services.common.config import SERVICE_NAMES
from services.common.faults import KILL_AFTER_PUBLISH_VAR
from services.common.messaging import event_exchange
from services.common.outbox import new_event

Fault = Callable[["object"], None]  # takes the ChaosSystem


def no_fault(system) -> None:
    """The same burst with nothing failing: the reference row."""


def broker_stop_start_app(system) -> None:
    system.broker.stop_app()
    time.sleep(5)
    system.broker.start_app()


def broker_full_restart(system) -> None:
    system.broker.restart()


def kill_each_service(system) -> None:
    """kill -9 of one replica of every process in turn; the keeper restarts each."""
    for name in (*SERVICE_NAMES, "gateway"):
        system.supervisor.kill(system.processes(name)[0])
        time.sleep(2)


def kill_relay_between_publish_and_mark(system, seconds: float = 15) -> None:
    """For a while, the first replicas of intake and dispatch die (kill -9) after 5 % of
    their confirmed publishes, before marking them sent; restarted, they die again."""
    system.supervisor.env[KILL_AFTER_PUBLISH_VAR] = "0.05"
    try:
        for name in ("intake", "dispatch"):
            system.supervisor.kill(system.processes(name)[0])
        time.sleep(seconds)
    finally:
        system.supervisor.env.pop(KILL_AFTER_PUBLISH_VAR, None)
        for name in ("intake", "dispatch"):  # back to healthy processes
            system.supervisor.kill(system.processes(name)[0])


def _fail_point(system, mode, data: dict) -> None:
    client = system.client()
    try:
        client.admin.command({"configureFailPoint": "failCommand", "mode": mode,
                              "data": data})
    finally:
        client.close()


def store_fails_writes(system, seconds: float = 4) -> None:
    """Every insert and update fails for a few seconds (a primary stepping down)."""
    _fail_point(system, "alwaysOn", {"failCommands": ["insert", "update", "findAndModify"],
                                     "errorCode": 11602})  # InterruptedDueToReplStateChange
    time.sleep(seconds)
    _fail_point(system, "off", {})


def store_restart(system) -> None:
    system.restart_store()


def slow_handlers(system) -> None:
    """Inserts block for longer than two heartbeat intervals: RPC and event handlers run
    long while their connections must stay alive, and each effect still happens once."""
    block_ms = int(system.settings["HEARTBEAT"] * 2.5 * 1000)
    _fail_point(system, {"times": 6}, {"failCommands": ["insert"], "blockConnection": True,
                                       "blockTimeMS": block_ms})


def poison_messages(system) -> None:
    """Into every consumed queue: a body that is not JSON, an envelope that breaks the
    contract, and a well-formed event about an order nobody knows (retried until the
    delivery limit). Each must end in the consumer's dead-letter queue, with a reason."""
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
