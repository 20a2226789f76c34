"""Shared test infrastructure: a real Mongo-wire server and an isolated RabbitMQ vhost."""

import eventlet

eventlet.monkey_patch()  # nameko containers run in-process in the integration tier

import contextlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import quote  # noqa: E402

import pytest  # noqa: E402

from services.ops.infra import EmbeddedMongo  # noqa: E402

BROKER = os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """MongoDB itself when TEST_MONGO_URI names one, else the embedded SecantusDB server."""
    if os.environ.get("TEST_MONGO_URI"):
        yield os.environ["TEST_MONGO_URI"]
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo") / "db", port=free_port(),
                           extra_args=("--enable-test-commands",))
    uri = server.start()
    yield uri
    server.stop()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def fresh_vhost():
    """A RabbitMQ vhost of its own, removed afterwards."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl not found: the tests need a local RabbitMQ (make broker)")
    vhost = f"aftersales-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{BROKER}/{quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def amqp_uri():
    with fresh_vhost() as uri:
        yield uri


@pytest.fixture
def db_prefix():
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service_env(amqp_uri, mongo_uri, db_prefix):
    """Environment for settings of an isolated deployment."""
    return {"AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri, "DB_PREFIX": db_prefix,
            "BRANCHES": "SH,SZ"}
