"""The operator CLI (``aftersales``): run the system, serve one service, load demo data."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports what a command needs only when it runs
    from services.ops.supervisor import Supervisor


def _service_class(name: str):
    from importlib import import_module

    if name == "gateway":
        return import_module("gateway.service").GatewayService
    module = import_module(f"services.{name}.service")
    return getattr(module, f"{name.capitalize()}Service")


def serve(name: str) -> int:
    """Run one service in this process (the command compose and Kubernetes use too)."""
    import eventlet

    eventlet.monkey_patch()
    import errno
    import signal

    from nameko.runners import ServiceRunner

    from services.common.config import ConfigError, load_settings
    from services.common.logs import configure_logging

    configure_logging(name, os.environ.get("LOG_LEVEL", "INFO"))
    try:
        settings = load_settings()
        from services.common.reference import load_reference

        load_reference(settings["reference_data"])  # fail now on bad reference data
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    port = settings["metrics_ports"][name]
    settings["WEB_SERVER_ADDRESS"] = f"{settings['http']['host']}:{port}"
    settings["max_workers"] = settings["max_workers"]
    settings["SERIALIZER"] = "json"
    runner = ServiceRunner(settings)
    runner.add_service(_service_class(name))

    def shutdown(signum, frame):
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    while True:
        try:
            runner.wait()
            return 0
        except OSError as exc:  # eventlet may interrupt the wait on a signal
            if exc.errno != errno.EINTR:
                raise


def _stop_on_signals(action: Callable[[], None] | None = None) -> None:
    """Ctrl-C, and SIGTERM from a service manager or ``kill``, both stop every process
    cleanly (even when the shell started us with SIGINT ignored, as it does for
    background jobs). Until the system is up they interrupt start-up; after that they
    call ``action``, which only asks the restart loop to end, so a signal can never land
    between starting a child and recording it (that child would outlive us)."""
    import signal

    def interrupt(signum, frame):
        if action is None:
            raise KeyboardInterrupt
        action()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run_system(args: argparse.Namespace) -> int:
    from services.common.config import ConfigError, load_settings
    from services.ops.infra import EmbeddedMongo, InfraError, default_var_dir, ensure_broker
    from services.ops.supervisor import (
        Supervisor,
        embedded_store_restarter,
        health_urls,
        metrics_port,
    )

    _stop_on_signals()
    env = dict(os.environ)
    mongo = None
    try:
        own_port = metrics_port(env)
        settings = load_settings()
        ensure_broker(settings["AMQP_URI"])
        if "MONGO_URI" not in os.environ:
            mongo = EmbeddedMongo(default_var_dir() / "db")
            env["MONGO_URI"] = mongo.start()
            print(f"documents: embedded MongoDB-wire server, data in {mongo.data_dir}")
        settings = load_settings(environ=env)
    except (ConfigError, InfraError, ValueError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        if mongo is not None:
            mongo.stop()
        return 2
    supervisor = Supervisor(env, log_dir=default_var_dir() / "log" if args.quiet else None)
    if not _serve_own_metrics(supervisor, settings["http"]["host"], own_port):
        if mongo is not None:
            mongo.stop()
        return 2
    gateway = f"http://127.0.0.1:{settings['http']['gateway_port']}"
    try:
        if mongo is not None and mongo.process is not None:  # None: a previous run's store
            supervisor.adopt("store", mongo.process, embedded_store_restarter(mongo))
        supervisor.start()
        supervisor.wait_ready(health_urls(settings))
        seeded = _seed(settings)
        _print_banner(gateway, settings, seeded, own_port)
        _stop_on_signals(supervisor.request_stop)
        supervisor.supervise()
        print("\nstopping ...")
    except KeyboardInterrupt:
        print("\nstopping ...")
    except RuntimeError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop_on_signals(supervisor.request_stop)  # a second Ctrl-C must not cut the stop
        supervisor.stop()
        if mongo is not None:
            mongo.stop()
    return 0


def _seed(settings: dict, seconds: float = 30) -> int:
    """Demo data on an empty deployment. A service answers /health once its web server
    is up, which can be a moment before its RPC queue is bound; the broker then returns
    the call (UnknownService) without delivering it, so calling again is safe."""
    import time

    from nameko.exceptions import UnknownService

    from services.ops.seed import seed_if_empty

    deadline = time.monotonic() + seconds
    while True:
        try:
            return seed_if_empty(settings)
        except UnknownService:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _serve_own_metrics(supervisor: Supervisor, host: str, port: int) -> bool:
    try:
        supervisor.metrics.serve(host, port)
    except OSError as exc:
        print(f"cannot start: the runner's /metrics on {host}:{port}: {exc.strerror} "
              "(set SUPERVISOR_METRICS_PORT)", file=sys.stderr)
        return False
    return True


def _print_banner(gateway: str, settings: dict, seeded: int, own_port: int) -> None:
    example = ('{"customer":{"name":"王先生","phone":"13812345678","address":"黄浦区南京东路1号",'
               '"region_code":"310101"},"product":{"category":"gas_water_heater",'
               '"serial_number":"GWH-0001","purchase_date":"2026-03-01"},'
               '"request_type":"repair","description":"热水器有煤气味","channel":"hotline"}')
    print(f"\naftersales is running{' (demo data loaded)' if seeded else ''}")
    print(f"  gateway:     {gateway}   (OpenAPI: {gateway}/api/v1/openapi.json)")
    print("  demo token:  demo-agent-sh   (more in deploy/config/tokens.yaml)")
    print(f"  console:     {gateway}/console   (工作台: sign in with a demo token)")
    print(f"  try:        curl -s -X POST {gateway}/api/v1/requests "
          f"-H 'Authorization: Bearer demo-agent-sh' -H 'Content-Type: application/json' "
          f"-d '{example}'")
    for name, port in settings["metrics_ports"].items():
        print(f"  metrics:     {name:<11} http://127.0.0.1:{port}/metrics")
    print(f"  supervisor:  http://127.0.0.1:{own_port}/metrics   (restarts, processes up)")
    print("A process that dies is restarted. Ctrl-C stops everything.\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    import warnings

    # eventlet warns on import that it is in maintenance; operators need not see it.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {importlib.metadata.version('aftersales')}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole system locally")
    run.add_argument("--quiet", action="store_true", help="write service logs to var/log")
    one = commands.add_parser("serve", help="run one service in this process")
    one.add_argument("name", choices=["intake", "dispatch", "inventory", "billing",
                                      "callbacks", "complaints", "gateway"])
    commands.add_parser("seed", help="load demo technicians into an empty deployment")
    commands.add_parser("check-config", help="validate the settings and reference data")
    from services.ops import operator

    operator.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in operator.COMMANDS:
        return operator.run(args)
    if args.command == "serve":
        return serve(args.name)
    if args.command == "run":
        return run_system(args)
    if args.command == "seed":
        from services.common.config import load_settings
        from services.ops.seed import seed_if_empty

        print(f"loaded {seed_if_empty(load_settings())} technicians")
        return 0
    from services.common.config import ConfigError, load_settings
    from services.common.reference import load_reference

    try:
        settings = load_settings()
        load_reference(settings["reference_data"])
        if settings.get("hq_routing_file"):
            from gateway.hq import load_table

            load_table(settings["hq_routing_file"])
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print("configuration OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
