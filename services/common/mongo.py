"""MongoDB access: one client per service container, with bounded waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from services.common.config import database_name

CLIENT_OPTIONS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 5000,
    "connectTimeoutMS": 5000,
    "socketTimeoutMS": 15000,
    "maxPoolSize": 8,  # small pools: the embedded store slows under many connections
    # retryWrites is left to the URI (pymongo's default: on). The embedded store's URI
    # turns it off: see EmbeddedMongo.uri.
    "tz_aware": True,
    "serverMonitoringMode": "poll",  # no long-held streaming hello per client
}


def connect(uri: str, **overrides: Any) -> MongoClient:
    return MongoClient(uri, **{**CLIENT_OPTIONS, **overrides})


class MongoDatabase(DependencyProvider):
    """Injects the service's own database; the client is made at container setup."""

    def __init__(self, prepare: Callable[[Database], None] | None = None) -> None:
        self.prepare = prepare
        self.client: MongoClient | None = None
        self.database: Database | None = None

    def setup(self) -> None:
        config = self.container.config
        self.client = connect(config["MONGO_URI"])
        self.database = self.client[database_name(config, self.container.service_name)]
        if self.prepare is not None:
            self.prepare(self.database)  # indexes exist before the first request

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    kill = stop

    def get_dependency(self, worker_ctx) -> Database:
        return self.database


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def earliest(collection: Collection, field: str) -> datetime | None:
    """The earliest value of a sparse due-time field (a dotted path): when the sweep that
    scans it next has work (None: nothing pending). One indexed read of one key."""
    found = collection.find_one({field: {"$gt": EPOCH}}, {field: 1},
                                sort=[(field, ASCENDING)])
    for key in field.split("."):
        found = (found or {}).get(key)
    return found
