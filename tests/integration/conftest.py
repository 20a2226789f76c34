"""One service at a time, in this process, against the real broker and Mongo-wire server."""

import contextlib

import pytest
from kombu import Connection
from nameko.containers import ServiceContainer

from services.common.config import load_settings
from services.common.mongo import connect
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
