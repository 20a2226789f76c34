"""Health probes answered by the HTTP server itself, never by a worker.

nameko runs each ``@http`` request in a worker from the container's pool (``max_workers``),
the pool the RPC, event and timer entrypoints share. When every worker waits on a slow
store or a burst of calls, a probe queued behind them times out and the orchestrator
restarts a process that was only busy. These entrypoints answer in the connection's own
green thread instead; the decorated method's body never runs.

- liveness (``/health/live``): the process and its event loop run. No store, no broker.
- readiness (``/health``, ``/health/ready``): the service's store answers a ping within
  ``READY_TIMEOUT_SECONDS``; a service without a store (the gateway) is ready when live.
"""

from __future__ import annotations

import json
import logging

import pymongo
from nameko.web.handlers import HttpRequestHandler
from pymongo.database import Database
from pymongo.errors import PyMongoError
from werkzeug.wrappers import Response

from services.common.errors import RETRY_AFTER_SECONDS
from services.common.mongo import MongoDatabase

log = logging.getLogger(__name__)
# Below the readiness probe's own timeout (deploy/k8s: 3 s), so it gets an answer.
READY_TIMEOUT_SECONDS = 2.0
OK = {"status": "ok"}


class _Probe(HttpRequestHandler):
    def handle_request(self, request) -> Response:
        request.shallow = False
        status, body = self.check()
        response = Response(json.dumps(body, ensure_ascii=False), status=status,
                            mimetype="application/json")
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def check(self) -> tuple[int, dict]:
        raise NotImplementedError


class Liveness(_Probe):
    def check(self) -> tuple[int, dict]:
        return 200, OK


class Readiness(_Probe):
    def check(self) -> tuple[int, dict]:
        store = self._store()
        if store is None:
            return 200, OK
        if store.database is not None and _pings(store.database):
            return 200, OK
        return 503, {"status": "unavailable",
                     "message": "数据存储无应答。The data store does not answer."}

    def _store(self) -> MongoDatabase | None:
        for dependency in self.container.dependencies:
            if isinstance(dependency, MongoDatabase):
                return dependency
        return None


def _pings(database: Database) -> bool:
    try:
        with pymongo.timeout(READY_TIMEOUT_SECONDS):
            database.command("ping")
    except PyMongoError as exc:
        log.warning("not ready: the store does not answer: %s", exc)
        return False
    return True


live = Liveness.decorator
ready = Readiness.decorator
