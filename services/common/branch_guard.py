"""Branch isolation where an RPC is given ids: the gateway's check is the first line, this
is the second, in every service, for every caller (the gateway, the operator CLI, another
service).

``branch_rpc`` is nameko's ``rpc`` with one step before the method: every argument that
names one of our branch-numbered objects (an order id, the orders of a complaint, a
callback task...) must name the caller's branch — the ``branch`` argument, or the acting
user's (``actor["branch"]``). Otherwise the call fails as the gateway's own check does,
with a 404, before anything is read or written.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from nameko.rpc import rpc

from services.common.domain.branches import foreign_references
from services.common.errors import AppError, NotFound


def caller_branch(arguments: dict[str, Any]) -> str | None:
    """The branch the call acts for, or None for calls that act for none (the fee
    schedule, HQ's reports over several branches)."""
    branch = arguments.get("branch") or arguments.get("acting_branch")
    if branch:
        return branch
    actor = arguments.get("actor")
    return actor.get("branch") if isinstance(actor, dict) else None


def refuse_foreign_ids(signature: inspect.Signature, args: tuple, kwargs: dict) -> None:
    bound = signature.bind(*args, **kwargs)
    arguments = {name: value for name, value in bound.arguments.items() if name != "self"}
    branch = caller_branch(arguments)
    if branch is None:
        return
    refs = {name: value for name, value in arguments.items()
            if name not in ("branch", "acting_branch", "actor")}
    foreign = foreign_references(refs, branch)
    if foreign:
        raise NotFound("不存在 / not found: " + ", ".join(sorted(foreign)),
                       {"branch": [f"本分支({branch})没有该对象 / No such object in {branch}."]})


def branch_guarded(method: Callable) -> Callable:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refuse_foreign_ids(signature, args, kwargs)
        return method(*args, **kwargs)

    # nameko checks a call's arguments against the method's own signature
    guarded.__signature__ = signature  # type: ignore[attr-defined]
    return guarded


def branch_rpc(method: Callable | None = None, *,
               expected_exceptions: type[Exception] | tuple = AppError,
               **options: Any) -> Any:
    """``@branch_rpc`` or ``@branch_rpc(expected_exceptions=...)`` in place of ``@rpc``."""
    def decorate(func: Callable) -> Callable:
        return rpc(expected_exceptions=expected_exceptions, **options)(branch_guarded(func))

    return decorate(method) if method is not None else decorate
