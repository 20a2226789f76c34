"""How outages reach the client: a service's store failure (a RemoteError naming a pymongo
connection error) and a broker that does not take the call are 503 with Retry-After; a
call sent but not answered in time is 504; the health probes say which is which."""

from __future__ import annotations

import json
from types import SimpleNamespace

import eventlet
import pytest
from amqp.exceptions import NotAllowed
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, UnknownService
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.http import GatewayBase, _remote, endpoint, json_response
from services.common.errors import RETRY_AFTER_SECONDS, Unavailable, store_outage
from services.common.health import Liveness, Readiness
from services.common.mongo import MongoDatabase

STORE_ERRORS = ("ServerSelectionTimeoutError", "AutoReconnect", "NetworkTimeout",
                "ConnectionFailure", "NotPrimaryError", "WaitQueueTimeoutError")


def _chinese_first(text: str) -> bool:
    return "\u4e00" <= text[0] <= "\u9fff"


def _assert_unavailable(response) -> dict:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = json.loads(response.get_data(as_text=True))
    assert body["error"] == "unavailable" and body["fields"] == {}
    assert _chinese_first(body["message"]), body
    return body


@pytest.mark.parametrize("name", STORE_ERRORS)
def test_a_remote_store_failure_is_503_with_retry_after(name):
    _assert_unavailable(_remote(RemoteError(name, "127.0.0.1:27217: connection refused")))


def test_a_store_failure_nested_in_another_services_remote_error_is_503():
    # dispatch re-raises billing's RemoteError: the inner type leads the text
    inner = RemoteError("AutoReconnect", "the primary stepped down")
    _assert_unavailable(_remote(RemoteError("RemoteError", str(inner))))


@pytest.mark.parametrize("exc_type,value", [
    ("DuplicateKeyError", "E11000"), ("KeyError", "'x'"), ("RemoteError", ""),
    ("RemoteError", "KeyError 'x'"), (None, "")])
def test_other_failures_are_not_outages(exc_type, value):
    assert store_outage(exc_type, value) is None


def test_an_unknown_remote_failure_stays_a_500_without_retry_after():
    response = _remote(RemoteError("KeyError", "'x'"))
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert json.loads(response.get_data(as_text=True))["error"] == "internal"


def test_a_services_own_unavailable_gets_retry_after_and_keeps_its_message():
    sent = Unavailable("账单服务无应答。billing did not answer")
    body = _assert_unavailable(_remote(RemoteError("Unavailable", str(sent))))
    assert body["message"] == "账单服务无应答。"
    english = _remote(RemoteError("Unavailable", str(sent)), "en")
    assert json.loads(english.get_data(as_text=True))["message"] == "billing did not answer"


class _Reply:
    def __init__(self, wait: float, value=None) -> None:
        self.wait, self.value = wait, value

    def result(self):
        eventlet.sleep(self.wait)
        return self.value


class _Method:
    """An RpcProxy method that fails to send with ``error``, or sends after ``send_wait``
    seconds and answers after ``answer_wait``."""

    service_name = "dispatch"

    def __init__(self, error: BaseException | None = None, send_wait: float = 0,
                 answer_wait: float = 0) -> None:
        self.error, self.send_wait, self.answer_wait = error, send_wait, answer_wait

    def call_async(self, *args):
        if self.error is not None:
            raise self.error
        eventlet.sleep(self.send_wait)
        return _Reply(self.answer_wait, {"ok": True})


class _Gateway(GatewayBase):
    config = {"rpc_timeout_seconds": 0.3}

    @endpoint(None)
    def route(self, request, caller, method):
        return json_response(200, self._call(method))


@pytest.mark.parametrize("error", [
    OperationalError("[Errno 111] Connection refused"), ConnectionRefusedError(111, "no"),
    NotAllowed("Connection.open: (530) NOT_ALLOWED - vhost not found")])
def test_a_broker_that_refuses_the_call_is_503(error):
    _assert_unavailable(_Gateway().route(None, method=_Method(error)))


def test_a_call_the_broker_does_not_take_in_time_is_503_not_504():
    _assert_unavailable(_Gateway().route(None, method=_Method(send_wait=5)))


def test_a_service_that_is_not_deployed_is_503_naming_it():
    body = _assert_unavailable(_Gateway().route(None,
                                                method=_Method(UnknownService("dispatch"))))
    assert "dispatch" in body["message"]


def test_a_call_sent_but_not_answered_in_time_is_504():
    response = _Gateway().route(None, method=_Method(answer_wait=5))
    assert response.status_code == 504 and "Retry-After" not in response.headers
    body = json.loads(response.get_data(as_text=True))
    assert body["error"] == "timeout" and _chinese_first(body["message"])


def test_an_answer_in_time_passes_through():
    assert _Gateway().route(None, method=_Method(answer_wait=0.01)).status_code == 200


# -- probes -----------------------------------------------------------------------------
class _Database:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def command(self, name: str) -> dict:
        if self.error is not None:
            raise self.error
        return {"ok": 1}


def _probe(cls, *dependencies):
    probe = cls("GET", "/health")
    probe.container = SimpleNamespace(dependencies=list(dependencies))
    return probe.handle_request(Request(EnvironBuilder(path="/health").get_environ()))


def _store(database) -> MongoDatabase:
    provider = MongoDatabase()
    provider.database = database
    return provider


def test_liveness_touches_nothing():
    failing = _store(_Database(ServerSelectionTimeoutError("down")))
    assert _probe(Liveness, failing).status_code == 200


def test_readiness_pings_the_store():
    assert _probe(Readiness, _store(_Database())).status_code == 200
    assert _probe(Readiness).status_code == 200  # no store (the gateway): ready when live
    for database in (_Database(ServerSelectionTimeoutError("down")), None):
        response = _probe(Readiness, _store(database))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert _chinese_first(json.loads(response.get_data(as_text=True))["message"])


def test_a_store_error_that_is_not_an_outage_still_fails_readiness():
    # a ping refused for another reason (say, not authorised): not ready either
    response = _probe(Readiness, _store(_Database(OperationFailure("not authorized"))))
    assert response.status_code == 503
