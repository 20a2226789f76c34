"""Client options: the URI decides retryable writes, and the embedded store's URI turns
them off (SecantusDB's per-write bookkeeping for them grows with every write)."""

from pathlib import Path

from services.common.mongo import CLIENT_OPTIONS, connect
from services.ops.infra import EmbeddedMongo


def test_client_options_leave_retryable_writes_to_the_uri():
    assert "retryWrites" not in CLIENT_OPTIONS


def test_embedded_store_uri_turns_retryable_writes_off():
    client = connect(EmbeddedMongo(Path("unused"), port=1).uri, connect=False)
    try:
        assert client.options.retry_writes is False
    finally:
        client.close()


def test_a_configured_uri_keeps_pymongo_default():
    client = connect("mongodb://db.example:27017/?replicaSet=rs0", connect=False)
    try:
        assert client.options.retry_writes is True
    finally:
        client.close()
