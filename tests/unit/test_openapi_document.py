"""The gateway's OpenAPI document validates against the OpenAPI specification (what
client generators and API gateways check first)."""

import re

from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import OpenAPIV30SpecValidator

from gateway.hq import BranchUnavailable
from gateway.service import openapi_document
from services.common.errors import AppError


def test_the_document_is_valid_openapi():
    document = openapi_document()
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in OpenAPIV30SpecValidator(document).iter_errors()]
    assert document["openapi"].startswith("3.0") and errors == []


def test_the_validator_sees_a_default_of_the_wrong_type():
    document = openapi_document()
    schema = next(iter(document["components"]["schemas"].values()))
    schema.setdefault("properties", {})["bad"] = {"type": "number", "default": "0.0"}
    assert list(OpenAPIV30SpecValidator(document).iter_errors())


def test_every_operation_documents_the_language_and_request_id_headers():
    document = openapi_document()
    headers = {name: document["components"]["parameters"][name]["name"]
               for name in ("AcceptLanguage", "RequestId")}
    assert headers == {"AcceptLanguage": "Accept-Language", "RequestId": "X-Request-Id"}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if "security" not in op:
                continue  # the probes and documents anyone may read
            refs = {p.get("$ref", "").rsplit("/", 1)[-1] for p in op.get("parameters", [])}
            assert set(headers) <= refs, f"{method.upper()} {path}"


def _operations(document):
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            yield f"{method.upper()} {path}", op


def test_every_operation_has_a_unique_id_a_declared_tag_and_a_summary():
    document = openapi_document()
    declared = {tag["name"] for tag in document["tags"]}
    assert all(tag.get("description") for tag in document["tags"])
    ids = []
    for name, op in _operations(document):
        assert re.fullmatch(r"[a-z]+[A-Za-z0-9]*", op.get("operationId", "")), name
        ids.append(op["operationId"])
        assert op.get("tags") and set(op["tags"]) <= declared, name
        assert op.get("summary", "").strip(), name
    assert len(ids) == len(set(ids))  # client generators name a method by it
    assert document["paths"]["/api/v1/orders/{order_id}/check-in"]["post"]["operationId"] \
        == "postOrdersByOrderIdCheckIn"


def test_every_error_status_the_api_answers_is_documented_on_every_operation():
    document = openapi_document()
    # each AppError the services and the HQ routes raise, by its status
    raised = {cls.status for cls in (AppError, BranchUnavailable, *_subclasses(AppError))}
    assert {400, 401, 403, 404, 409, 422, 503, 504} <= raised
    for name, op in _operations(document):
        documented = {int(code) for code in op["responses"] if code[0] in "45"}
        if "security" in op:
            assert raised <= documented, name
        else:  # probes and pages: only an outage
            assert documented <= {503}, name
        for code in documented:
            response = op["responses"][str(code)]
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, name
            assert response["description"] != "Error", name  # says which error
    retry = document["paths"]["/api/v1/hq/requests"]["post"]["responses"]["503"]["headers"]
    assert "Retry-After" in retry


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_request_body_examples_match_their_schemas():
    document = openapi_document()
    examples = 0
    for name, op in _operations(document):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if not body or "example" not in body:
            continue
        examples += 1
        schema = {**body["schema"], "components": document["components"]}
        errors = [e.message for e in OAS30Validator(
            schema, format_checker=OAS30Validator.FORMAT_CHECKER).iter_errors(body["example"])]
        assert errors == [], name
    # the first call every client makes, and every step of an order, have one
    assert document["paths"]["/api/v1/requests"]["post"]["requestBody"][
        "content"]["application/json"]["example"]["customer"]["region_code"] == "310101"
    assert examples >= 25


def test_the_example_check_sees_a_bad_example():
    document = openapi_document()
    body = document["paths"]["/api/v1/requests"]["post"]["requestBody"]["content"][
        "application/json"]
    bad = {**body["example"], "channel": "pigeon"}
    schema = {**body["schema"], "components": document["components"]}
    assert list(OAS30Validator(schema).iter_errors(bad))
