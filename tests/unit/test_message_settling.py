"""An ack or requeue on a connection that died with its broker node must not end the
consumer's container: the broker has taken the message back and redelivers it."""

from types import SimpleNamespace

import pytest
from amqp.exceptions import ConnectionForced, RecoverableConnectionError

from services.common.messaging import SafeQueueConsumer


class DeadChannelMessage:
    def __init__(self, error: Exception) -> None:
        self.channel = SimpleNamespace(connection=object())  # looked alive when asked
        self.error = error
        self.tried: list[str] = []

    def ack(self) -> None:
        self.tried.append("ack")
        raise self.error

    def requeue(self) -> None:
        self.tried.append("requeue")
        raise self.error


# What the socket raises when the node died under it: nameko lets these through (it
# catches only amqp's own ConnectionError) and the container would exit.
@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"),
                                   ConnectionResetError(104, "Connection reset by peer"),
                                   OSError("Socket closed")])
def test_settling_on_a_dead_connection_is_logged_not_raised(error, caplog):
    consumer = SafeQueueConsumer()
    message = DeadChannelMessage(error)
    consumer.ack_message(message)
    consumer.requeue_message(message)
    assert message.tried == ["ack", "requeue"]
    assert caplog.text.count("the broker redelivers it") == 2


@pytest.mark.parametrize("error", [RecoverableConnectionError("connection lost"),
                                   ConnectionForced("node shutdown")])
def test_amqps_own_connection_errors_never_raise(error):
    message = DeadChannelMessage(error)
    SafeQueueConsumer().ack_message(message)
    SafeQueueConsumer().requeue_message(message)
    assert message.tried == ["ack", "requeue"]


def test_other_errors_still_raise():
    with pytest.raises(RuntimeError):
        SafeQueueConsumer().ack_message(DeadChannelMessage(RuntimeError("a bug")))
