"""One service at a time, in this process, against the real broker and Mongo-wire server."""

import contextlib
import time
import uuid
from datetime import datetime, timedelta

import eventlet
import pytest
from kombu import Connection
from nameko.containers import ServiceContainer

from services.common.config import load_settings
from services.common.messaging import dead_letter_queue, event_exchange
from services.common.mongo import connect
from services.common.outbox import new_event
from services.dispatch.store import DispatchStore, ensure_indexes
from tests.conftest import free_port


@pytest.fixture
def settings(service_env):
    config = load_settings(environ=service_env)
    config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
    config["SERIALIZER"] = "json"
    return config


@pytest.fixture
def start_service(settings):
    containers = []

    def start(cls, **overrides):
        container = ServiceContainer(cls, {**settings, **overrides})
        container.start()
        containers.append(container)
        return container

    yield start
    for container in containers:
        with contextlib.suppress(Exception):
            container.stop()


@pytest.fixture
def mongo(mongo_uri):
    client = connect(mongo_uri)
    yield client
    client.close()


@pytest.fixture
def broker(amqp_uri):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        yield conn


@pytest.fixture
def amqp_uri(amqp_uri):
    """A vhost per test here: events one test leaves in a queue never reach the next."""
    from tests.conftest import fresh_vhost

    with fresh_vhost() as uri:
        yield uri


def order_created_data(order_id: str, now: datetime) -> dict:
    """Intake's ``order_created`` data for a plain Shanghai repair, due within 24 h."""
    return {"order_id": order_id, "branch": "SH", "zone": "standard",
            "region_code": "310115", "lat": 31.22, "lon": 121.54, "request_type": "repair",
            "priority": "normal", "priority_reasons": [], "channel": "hotline",
            "received_at": now.isoformat(), "customer": {"name": "x", "phone": "13700001111",
                                                         "address": "y", "region_code": "310115"},
            "product": {"category": "electric_water_heater"}, "description": "不加热",
            "warranty": {"status": "unknown"},
            "deadlines": {"arrival": (now + timedelta(hours=24)).isoformat()}}


def technician(technician_id: str, certificates=("electrical",), name: str = "钱工") -> dict:
    """A technician's registration: always on shift, standard zone, in Pudong."""
    return {"technician_id": technician_id, "name": name, "certificates": list(certificates),
            "zones": ["standard"], "lat": 31.22, "lon": 121.54, "shift": "always", "cap": 5}


def publish_order_created(broker, order_id: str, now: datetime) -> None:
    """Intake's ``order_created`` for ``order_id`` (see ``order_created_data``), on the
    broker."""
    broker.Producer(serializer="json").publish(
        new_event("order_created", "intake", "SH", order_created_data(order_id, now), now),
        exchange=event_exchange("intake"), routing_key="order_created")


def wait_for(predicate, seconds: float = 20):
    """What ``predicate`` returns once it is truthy, polled while the services work;
    AssertionError when it never is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        eventlet.sleep(0.1)
    raise AssertionError(f"condition not met in {seconds} s")


def drain_dead_letters(broker, service: str) -> list:
    """Every message now in a service's dead-letter queue, taken off it."""
    queue = dead_letter_queue(service)(broker.default_channel)
    queue.declare()
    found = []
    while (message := queue.get(no_ack=True)) is not None:
        found.append(message)
    return found


def next_message(bound_queue, seconds: float = 20):
    """The next message on a bound queue (taken without an ack), waiting up to
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = bound_queue.get(no_ack=True)
        if message is not None:
            return message
        time.sleep(0.05)
    raise AssertionError(f"nothing arrived on {bound_queue.name}")


@pytest.fixture
def dispatch_store(mongo):
    """Dispatch's store on a database of its own, dropped afterwards."""
    db = mongo[f"dispatch_{uuid.uuid4().hex[:8]}"]
    ensure_indexes(db)
    yield DispatchStore(db)
    mongo.drop_database(db.name)
