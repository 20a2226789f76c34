"""Asking another service a question that must be answered now, with a bounded wait."""

from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import RemoteError

from services.common.errors import Unavailable, from_remote


def ask(method: Any, *args: Any, seconds: float, who: str) -> Any:
    """``method`` is a proxy's method (``self.billing.check_completion``). A service that
    does not answer in ``seconds`` is a 503 (nothing was changed here: try again); its
    own AppErrors pass on unchanged."""
    try:
        with eventlet.Timeout(seconds):
            return method.call_async(*args).result()
    except eventlet.Timeout:
        raise Unavailable(f"{who} 未应答，未做任何更改，请重试 / {who} did not answer; "
                          "nothing was changed, try again") from None
    except RemoteError as exc:
        raise (from_remote(exc.exc_type, exc.value) or exc) from None
