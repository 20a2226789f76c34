"""No event is published into the void: every event a service's code publishes has a
consumer (a service's event handler) or is declared as a notification for outside
listeners (services/common/routes.py, NOTIFICATIONS). Both sides are read from the code:
the events from the publishing calls in each service's package, the consumers from the
handlers the service classes declare."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.common.routes import NOTIFICATIONS
from tests.unit.test_routes import SERVICES, handlers

# Calls that publish: a unit of work's ``events(branch, *kinds)`` and the services' own
# ``_events(doc, *kinds)`` wrappers; the kinds are the positional arguments after the first.
PUBLISHING = ("events", "_events")
PACKAGES = ("intake", "dispatch", "inventory", "billing", "callbacks", "complaints")


class Unresolved(Exception):
    """A publishing call whose event kind the checker cannot read from the code."""


def _literals(expr: ast.expr) -> set[str] | None:
    """The strings an expression can evaluate to, when it is built of literals only
    (a string, lists of them added together, a choice between them); None otherwise."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    parts = {ast.List: lambda e: e.elts, ast.Tuple: lambda e: e.elts,
             ast.BinOp: lambda e: [e.left, e.right], ast.IfExp: lambda e: [e.body, e.orelse]}
    if type(expr) not in parts:
        return None
    found: set[str] = set()
    for part in parts[type(expr)](expr):
        kinds = _literals(part)
        if kinds is None:
            return None
        found |= kinds
    return found


def _kinds_of(arg: ast.expr, function: ast.FunctionDef, where: str) -> set[str]:
    """The event kinds an argument of a publishing call can name: a literal, or a local
    variable whose assignments are built of literals (``kinds = ["a"] + (["b"] if ...
    else [])``). A parameter of the enclosing function is a wrapper's: its callers name
    the kinds."""
    value = arg.value if isinstance(arg, ast.Starred) else arg
    if isinstance(value, ast.Name):
        parameters = function.args
        if value.id in {a.arg for a in [*parameters.args, *parameters.kwonlyargs,
                                         *filter(None, [parameters.vararg])]}:
            return set()
        assigned = [_literals(node.value) for node in ast.walk(function)
                    if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == value.id
                            for t in node.targets)]
        if assigned and None not in assigned:
            return set().union(*assigned)
    elif (kinds := _literals(value)) is not None:
        return kinds
    raise Unresolved(f"{where}: cannot tell which event {ast.unparse(arg)} names")


def published_in(source: str, text: str, where: str) -> set[tuple[str, str]]:
    """(source, kind) of every event the module's publishing calls can write."""
    found = set()
    for function in ast.walk(ast.parse(text)):
        if not isinstance(function, ast.FunctionDef):
            continue
        for call in ast.walk(function):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr in PUBLISHING):
                for arg in call.args[1:]:
                    found |= {(source, kind) for kind in _kinds_of(
                        arg, function, f"{where}:{call.lineno}")}
    return found


def published() -> set[tuple[str, str]]:
    found = set()
    for source in PACKAGES:
        for path in sorted(Path("services", source).rglob("*.py")):
            found |= published_in(source, path.read_text(encoding="utf-8"), str(path))
    return found


def consumed() -> set[tuple[str, str]]:
    return {(route.source, route.event_type)
            for service in SERVICES for route in handlers(service)}


def unconsumed(events: set[tuple[str, str]], consumers: set[tuple[str, str]],
               notifications: set[tuple[str, str]] | frozenset) -> set[tuple[str, str]]:
    """The published events nobody consumes and nobody declared a notification."""
    return events - consumers - set(notifications)


def test_every_published_event_has_a_consumer_or_is_a_declared_notification():
    events = published()
    assert ("dispatch", "order_completed") in events  # the reader sees the publishing calls
    assert ("dispatch", "exchange_requested") in events  # ...and a kind held in a variable
    assert not unconsumed(events, consumed(), NOTIFICATIONS)


def test_a_declared_notification_is_published_and_not_consumed():
    """The list stays true: nothing on it is stale or in fact consumed."""
    assert NOTIFICATIONS.issubset(published())
    assert not NOTIFICATIONS & consumed()


def test_cannot_fix_is_consumed_not_merely_declared():
    assert ("dispatch", "exchange_requested") in consumed()
    assert ("dispatch", "exchange_requested") not in NOTIFICATIONS


def test_the_check_sees_a_published_event_nobody_consumes():
    fake = '''
class Desk:
    def teleport(self, order):
        kind = "order_teleported"
        return self.uow.events(order["branch"], kind, order_id=order["_id"])
'''
    events = published() | published_in("dispatch", fake, "fake.py")
    assert unconsumed(events, consumed(), NOTIFICATIONS) == {("dispatch", "order_teleported")}


def test_a_kind_the_checker_cannot_read_fails_it_rather_than_passing_unseen():
    fake = '''
def publish(uow, branch, table):
    return uow.events(branch, table["kind"])
'''
    with pytest.raises(Unresolved, match="fake.py:3"):
        published_in("dispatch", fake, "fake.py")
