"""The gateway's OpenAPI document validates against the OpenAPI specification (what
client generators and API gateways check first)."""

from openapi_spec_validator import OpenAPIV30SpecValidator

from gateway.service import openapi_document


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
