"""Operator commands of the ``aftersales`` CLI: import, orders, report, dlq.

Exit codes (scripts rely on them):
  0  done
  1  done in part: some CSV rows or some replays failed (see the report / messages)
  2  usage or configuration error, or input the services refused
  3  not found (order, dead-lettered message)
  4  a service or the broker did not answer (try again)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

OK, PARTIAL, USAGE, NOT_FOUND, UNAVAILABLE = 0, 1, 2, 3, 4
COMMANDS = ("import", "orders", "report", "dlq")
EPILOG = ("exit codes: 0 done, 1 done in part, 2 usage/config error or refused input, "
          "3 not found, 4 service or broker unavailable")


class CommandError(Exception):
    def __init__(self, message: str, code: int, fields: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}


# -- argument parsing -----------------------------------------------------------------------
def add_commands(commands) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    imp = commands.add_parser("import", help="import requests from a CSV file", epilog=EPILOG,
                              formatter_class=formatter, description=(
                                  "Import requests from CSV (letters, faxes, offline batches)."
                                  " Columns: name, phone, address, region_code, category, "
                                  "request_type, description (required); vip, brand, model, "
                                  "serial_number, purchase_date, installation_date, "
                                  "invoice_number, channel (default letter), received_at, "
                                  "call_id. Re-running a file skips rows already imported; "
                                  "failed rows go to <file>.errors.csv."))
    imp.add_argument("file", type=Path, help="the CSV file (UTF-8)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")

    orders = commands.add_parser("orders", help="list orders or show one with its timeline",
                                 epilog=EPILOG)
    sub = orders.add_subparsers(dest="orders_command", required=True)
    listing = sub.add_parser("list", help="a page of orders (phones, addresses masked)",
                             epilog=EPILOG)
    listing.add_argument("--branch", help="branch code (default: the first one served)")
    listing.add_argument("--status", help="e.g. new, offered, on_site, waiting_parts")
    listing.add_argument("--priority", choices=["emergency", "high", "normal"])
    listing.add_argument("--overdue", action="store_true", help="only overdue orders")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = sub.add_parser("show", help="one order with its timeline", epilog=EPILOG)
    show.add_argument("order_id")
    show.add_argument("--branch", help="branch code (default: from the order number)")
    show.add_argument("--json", action="store_true", help="print JSON")

    report = commands.add_parser("report", epilog=EPILOG, help=(
        "commitment compliance per branch, zone and milestone for a period"))
    report.add_argument("--since", help="YYYY-MM-DD (local day) or ISO 8601; default 7 days ago")
    report.add_argument("--until", help="YYYY-MM-DD (exclusive) or ISO 8601; default now")
    report.add_argument("--branch", action="append", help="branch code (repeatable)")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")

    dlq = commands.add_parser("dlq", help="dead-lettered messages: list, show, replay",
                              epilog=EPILOG)
    sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dl_list = sub.add_parser("list", help="every dead-lettered message", epilog=EPILOG)
    dl_list.add_argument("--service", help="one service's dead-letter queue")
    dl_list.add_argument("--json", action="store_true", help="print JSON")
    dl_show = sub.add_parser("show", help="one message with headers and body", epilog=EPILOG)
    dl_show.add_argument("id")
    dl_replay = sub.add_parser("replay", epilog=EPILOG, help=(
        "send messages back to the queue they failed on, once, after a fix"))
    dl_replay.add_argument("ids", nargs="*", help="message ids (from dlq list)")
    dl_replay.add_argument("--all", action="store_true", help="every message (of --service)")
    dl_replay.add_argument("--service", help="with --all: one service's queue only")


def run(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.ERROR)  # library chatter is not an operator's concern
    from services.common.config import ConfigError, load_settings

    try:
        settings = load_settings()
        handler = {"import": _import, "orders": _orders, "report": _report,
                   "dlq": _dlq}[args.command]
        return handler(args, settings)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return USAGE
    except CommandError as exc:
        fields = f" {json.dumps(exc.fields, ensure_ascii=False)}" if exc.fields else ""
        print(f"error: {exc}{fields}", file=sys.stderr)
        return exc.code


# -- RPC ------------------------------------------------------------------------------------
@contextmanager
def _rpc(settings: dict):
    from nameko.standalone.rpc import ClusterRpcProxy

    config = {"AMQP_URI": settings["AMQP_URI"], "SERIALIZER": "json"}
    try:
        with ClusterRpcProxy(config, timeout=settings["rpc_timeout_seconds"]) as proxy:
            yield proxy
    except OSError as exc:
        raise CommandError(f"the broker cannot be reached: {exc}", UNAVAILABLE) from None


def _ask(method, *args) -> Any:
    """One RPC; service errors become CommandErrors with the right exit code."""
    from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

    try:
        return method(*args)
    except RpcTimeout:
        raise CommandError("the service did not answer in time; is it running?",
                           UNAVAILABLE) from None
    except UnknownService as exc:
        raise CommandError(f"{exc}: is the service running?", UNAVAILABLE) from None
    except RemoteError as exc:
        if exc.exc_type not in ("NotFound", "InvalidInput", "AppError", "Conflict"):
            raise CommandError(f"the service failed: {exc.exc_type}", UNAVAILABLE) from None
        try:
            body = json.loads(exc.value)
        except (TypeError, ValueError):
            body = {"message": str(exc.value)}
        code = NOT_FOUND if exc.exc_type == "NotFound" else USAGE
        raise CommandError(body.get("message", ""), code, body.get("fields")) from None


# -- import ---------------------------------------------------------------------------------
def _import(args: argparse.Namespace, settings: dict) -> int:
    from services.ops import importer

    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}", USAGE)

    def progress(done: int, total: int) -> None:
        if not args.quiet and sys.stderr.isatty():  # a bar only where a person watches
            end = "\n" if done == total else ""
            print(f"\r{importer.progress_bar(done, total)}", end=end, file=sys.stderr,
                  flush=True)

    with _rpc(settings) as proxy:
        def send(request: dict) -> dict:
            try:
                return _ask(proxy.intake.create_request, request)
            except CommandError as exc:
                if exc.code != USAGE:  # the services are down: stop; a re-run resumes
                    raise
                raise importer.RowRejected(exc.message, exc.fields) from None

        try:
            summary = importer.import_rows(args.file, send, progress)
        except importer.ImportFileError as exc:
            raise CommandError(str(exc), USAGE) from None
    print(f"{args.file.name}: {summary.total} rows — {summary.created} created, "
          f"{summary.existing} already imported (or reminders), {summary.failed} failed")
    if summary.failed:
        for line in importer.iter_errors(summary):
            print(line)
        print(f"per-row errors: {importer.error_report_path(args.file)}")
        return PARTIAL
    return OK


# -- orders ---------------------------------------------------------------------------------
def _orders(args: argparse.Namespace, settings: dict) -> int:
    from services.common.privacy import mask_personal

    if args.orders_command == "list":
        params = {"page": args.page, "page_size": args.page_size}
        for key in ("status", "priority"):
            if getattr(args, key):
                params[key] = getattr(args, key)
        if args.overdue:
            params["overdue"] = True
        branch = _branch(args.branch, settings)
        with _rpc(settings) as proxy:
            page = _ask(proxy.dispatch.list_orders, params, branch)
        page["items"] = [mask_personal(item) for item in page["items"]]
        if args.json:
            _print_json(page)
        else:
            _print_order_table(page)
        return OK
    branch = args.branch or args.order_id.split("-", 1)[0]
    with _rpc(settings) as proxy:
        try:
            order = _ask(proxy.dispatch.get_order, args.order_id, branch)
        except CommandError as exc:
            if exc.code != NOT_FOUND:
                raise
            order = _ask(proxy.intake.get_request, args.order_id, branch)
    if args.json:
        _print_json(order)
    else:
        _print_order(order)
    return OK


def _branch(given: str | None, settings: dict) -> str:
    branch = (given or settings["branches"][0]).upper()
    if branch not in settings["branches"]:
        raise CommandError(f"branch {branch} is not served here "
                           f"({', '.join(settings['branches'])})", USAGE)
    return branch


def _print_order_table(page: dict) -> None:
    print(f"{'order':<20} {'status':<14} {'priority':<10} {'zone':<10} {'received':<26} "
          f"technician")
    for item in page["items"]:
        print(f"{item['order_id']:<20} {item['status']:<14} {item['priority']:<10} "
              f"{item.get('zone') or '':<10} {item.get('received_at') or '':<26} "
              f"{item.get('technician_id') or ''}")
    print(f"page {page['page']} · {len(page['items'])} of {page['total']}")


def _print_order(order: dict) -> None:
    print(f"{order['order_id']}  {order['status']}  priority {order['priority']}  "
          f"{order.get('branch')}/{order.get('zone')}  technician "
          f"{order.get('technician_id') or '-'}")
    print(f"received {order.get('received_at')}")
    for milestone, due in (order.get("deadlines") or {}).items():
        reached = (order.get("milestones") or {}).get(milestone) or {}
        print(f"  {milestone:<14} due {due}  {reached.get('outcome') or 'open'}"
              f"{'  at ' + reached['at'] if reached.get('at') else ''}")
    print("timeline:")
    for entry in order.get("timeline") or []:
        details = json.dumps(entry.get("details"), ensure_ascii=False) \
            if entry.get("details") else ""
        print(f"  {entry['at']}  {entry['step']:<16} {entry.get('by') or '':<12} {details}")


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


# -- report ---------------------------------------------------------------------------------
def parse_moment(text: str, label: str) -> datetime:
    """YYYY-MM-DD is the start of that day in the branch time zone."""
    from schemas.fields import DISPLAY_TZ

    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(),
                                    DISPLAY_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--{label}: use YYYY-MM-DD or ISO 8601, not {text!r}",
                           USAGE) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TZ)


def _report(args: argparse.Namespace, settings: dict) -> int:
    from schemas.fields import DISPLAY_TZ

    until = parse_moment(args.until, "until") if args.until else datetime.now(DISPLAY_TZ)
    since = parse_moment(args.since, "since") if args.since else until - timedelta(days=7)
    branches = [_branch(b, settings) for b in args.branch] if args.branch else None
    with _rpc(settings) as proxy:
        report = _ask(proxy.dispatch.compliance_report, since.isoformat(), until.isoformat(),
                      branches)
    print(format_report(report, args.format), end="")
    return OK


def format_report(report: dict, style: str) -> str:
    if style == "json":
        return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    columns = ("branch", "zone", "milestone", "met", "breached", "on_time_share")
    if style == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in report["rows"]:
            writer.writerow([row[c] if row[c] is not None else "" for c in columns])
        return out.getvalue()
    lines = [f"commitment compliance {report['since']} .. {report['until']}",
             f"{'branch':<8}{'zone':<11}{'milestone':<15}{'met':>6}{'breached':>10}"
             f"{'on time':>10}"]
    for row in [*report["rows"], {"branch": "all", "zone": "", "milestone": "",
                                  **report["total"]}]:
        share = row["on_time_share"]
        lines.append(f"{row['branch']:<8}{row['zone']:<11}{row['milestone']:<15}"
                     f"{row['met']:>6}{row['breached']:>10}"
                     f"{(f'{share:.1%}' if share is not None else '—'):>10}")
    return "\n".join(lines + _delay_lines(report.get("delays") or [])) + "\n"


def _delay_lines(rows: list[dict]) -> list[str]:
    """Where the time went: hours by cause (all, and in milestones reached late)."""
    if not rows:
        return []
    lines = ["", "where the time went 时间去向 (hours 小时)",
             f"{'branch':<8}{'milestone':<15}{'cause':<16}{'all':>10}{'late':>10}"]
    lines += [f"{row['branch']:<8}{row['milestone']:<15}{row['cause']:<16}"
              f"{row['hours']:>10.2f}{row['late_hours']:>10.2f}" for row in rows]
    return lines


# -- dead letters ---------------------------------------------------------------------------
def _services(name: str | None) -> tuple[str, ...]:
    from services.common.config import SERVICE_NAMES

    if name is None:
        return SERVICE_NAMES
    if name not in SERVICE_NAMES:
        raise CommandError(f"unknown service {name}; one of {', '.join(SERVICE_NAMES)}", USAGE)
    return (name,)


def _dlq(args: argparse.Namespace, settings: dict) -> int:
    from services.ops import dlq

    services = _services(getattr(args, "service", None))
    if args.dlq_command == "replay" and not (args.ids or args.all):
        raise CommandError("give message ids, or --all", USAGE)
    try:
        with dlq.browse(settings["AMQP_URI"], services) as letters:
            return _dlq_command(args, settings, letters)
    except OSError as exc:
        raise CommandError(f"the broker cannot be reached: {exc}", UNAVAILABLE) from None


def _dlq_command(args, settings: dict, letters: list) -> int:
    from services.ops import dlq

    if args.dlq_command == "list":
        if args.json:
            _print_json([letter.summary() for letter in letters])
        else:
            for letter in letters:
                print(f"{letter.id}  {letter.service:<10} {letter.queue or '?':<50} "
                      f"{letter.reason[:80]}")
            print(f"{len(letters)} dead-lettered message(s)")
        return OK
    by_id = {letter.id: letter for letter in letters}
    if args.dlq_command == "show":
        if args.id not in by_id:
            raise CommandError(f"no dead-lettered message {args.id}", NOT_FOUND)
        _print_json(by_id[args.id].detail())
        return OK
    chosen = letters if args.all else [by_id.get(i) for i in args.ids]
    missing = [i for i, letter in zip(args.ids, chosen, strict=False) if letter is None]
    failed = 0
    for letter in (item for item in chosen if item is not None):
        try:
            dlq.replay(settings["AMQP_URI"], letter)
            print(f"replayed {letter.id} to {letter.queue}")
        except Exception as exc:  # one failure does not stop the rest
            failed += 1
            print(f"could not replay {letter.id}: {exc}", file=sys.stderr)
    for item in missing:
        print(f"no dead-lettered message {item}", file=sys.stderr)
    if missing and not failed and len(missing) == len(chosen):
        return NOT_FOUND
    return PARTIAL if failed or missing else OK
