"""HQ call centre: two branch deployments on two vhosts, an HQ gateway in front routing by
region over each branch's vhost; a branch's own gateway refuses other regions (422)."""

import uuid

import pytest
import requests

from gateway.service import GatewayService
from services.common.config import load_settings
from services.intake.service import IntakeService
from tests.conftest import free_port, fresh_vhost


def _body(region: str, call_id: str) -> dict:
    return {"customer": {"name": "钱女士", "phone": "13500003333", "address": "某区某路9号",
                         "region_code": region},
            "product": {"category": "gas_stove", "serial_number": f"GS-{call_id}"},
            "request_type": "repair", "description": "打不着火", "channel": "hotline",
            "call_id": call_id}


@pytest.fixture
def deployments(mongo_uri, tmp_path):
    """SH and SZ intake on vhosts of their own, SH's gateway, and the HQ gateway."""
    from nameko.containers import ServiceContainer

    containers, ports = [], {}
    with fresh_vhost() as sh_uri, fresh_vhost() as sz_uri:
        routing = tmp_path / "hq_routing.yaml"
        routing.write_text(f'branches:\n  SH: {{amqp_uri: "{sh_uri}"}}\n'
                           f'  SZ: {{amqp_uri: "{sz_uri}"}}\n'
                           f'  BJ: {{amqp_uri: "{sz_uri}-gone"}}\n'  # a branch that is down
                           'regions: {"3101": SH, "440304": SZ, "1101": BJ}\n'
                           'rpc_timeout_seconds: 10\n')
        prefix = f"t{uuid.uuid4().hex[:8]}"

        def start(cls, name, uri, branches, **env):
            settings = load_settings(environ={"AMQP_URI": uri, "MONGO_URI": mongo_uri,
                                              "DB_PREFIX": f"{prefix}{branches.lower()}",
                                              "BRANCHES": branches, **env})
            ports[name] = free_port()
            settings.update(WEB_SERVER_ADDRESS=f"127.0.0.1:{ports[name]}", SERIALIZER="json")
            container = ServiceContainer(cls, settings)
            container.start()
            containers.append(container)

        try:
            start(IntakeService, "intake_sh", sh_uri, "SH")
            start(IntakeService, "intake_sz", sz_uri, "SZ")
            start(GatewayService, "gateway_sh", sh_uri, "SH")
            start(GatewayService, "hq", sh_uri, "HQ", HQ_ROUTING_FILE=str(routing))
            yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        finally:
            for container in containers:
                container.stop()


def _post(base: str, path: str, body: dict, token: str):
    return requests.post(base + path, json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def test_hq_routes_by_region_and_branches_refuse_foreign_regions(deployments):
    hq = deployments["hq"]
    to_sh = _post(hq, "/api/v1/hq/requests", _body("310104", "HQ-1"), "demo-hq-agent")
    to_sz = _post(hq, "/api/v1/hq/requests", _body("440304", "HQ-2"), "demo-hq-agent")
    again = _post(hq, "/api/v1/hq/requests", _body("440304", "HQ-2"), "demo-hq-agent")
    nobody = _post(hq, "/api/v1/hq/requests", _body("120101", "HQ-3"), "demo-hq-agent")
    down = _post(hq, "/api/v1/hq/requests", _body("110101", "HQ-4"), "demo-hq-agent")
    assert to_sh.status_code == 201 and to_sh.json()["order_id"].startswith("SH-")
    assert to_sz.status_code == 201 and to_sz.json()["order_id"].startswith("SZ-")
    assert again.status_code == 200 and again.json()["order_id"] == to_sz.json()["order_id"]
    assert nobody.status_code == 422
    assert nobody.json()["fields"]["customer"]["region_code"]
    assert down.status_code == 503 and "BJ" in down.json()["message"]

    # The order is read back from the branch its number names (SZ's intake, SZ's vhost).
    found = requests.get(f"{hq}/api/v1/hq/orders/{to_sz.json()['order_id']}", timeout=30,
                         headers={"Authorization": "Bearer demo-hq-agent"})
    assert found.status_code == 200 and found.json()["branch"] == "SZ"

    # SH's own gateway: its agents cannot file a Shenzhen request; HQ tokens are refused.
    foreign = _post(deployments["gateway_sh"], "/api/v1/requests", _body("440304", "SH-X"),
                    "demo-agent-sh")
    assert foreign.status_code == 422
    assert "region_code" in foreign.json()["fields"]["customer"]
    hq_token = _post(deployments["gateway_sh"], "/api/v1/hq/requests",
                     _body("310104", "SH-Y"), "demo-hq-agent")
    assert hq_token.status_code == 403
