"""The schema declares the API's errors as the API answers them (gridmgmt/schema.py): every
operation's 4xx in the one error shape, a 400 also in the field-by-field shape of a
serializer's checks. Real answers are checked against the schema /api/schema/ serves,
by schemathesis as in the fuzz run (tests/test_fuzz_api.py)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
import yaml
from django.contrib.auth.models import User
from django.test import Client
from schemathesis.core.transport import Response

from layers.models import Area

ERROR = {"$ref": "#/components/schemas/Error"}
EITHER = {"oneOf": [ERROR, {"$ref": "#/components/schemas/ValidationErrors"}]}


def served_schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document: dict[str, Any] = yaml.safe_load(response.content)
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def test_every_operation_declares_its_errors_in_the_one_shape(
    loop: dict[str, User],
) -> None:
    client = Client()
    client.force_login(loop["admin"])
    document = served_schema(client)
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail", "code", "field"]
    assert "ValidationErrors" in schemas
    found = operations(document)
    assert len(found) >= 30
    for path, method, operation in found:
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        expected = {"400", "403", "429"} | ({"404"} if "{" in path else set())
        if "requestBody" in operation:
            expected |= {"413", "415"}
        assert expected <= set(responses), where
        for status, response in responses.items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == (EITHER if status == "400" else ERROR), (where, status)
                assert response["description"], (where, status)


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        # Refused before any view: the one error shape.
        ("/api/geocode/", {"q": "中山路\x00"}, "invalid"),
        ("/api/layers/areas/", {"tier": "\x00"}, "invalid"),
        ("/api/layers/people/", {"offset": "\x00"}, "invalid"),
        # Refused by the view's serializer: field by field.
        ("/api/cases/board/", {"datum": "utm"}, None),
        ("/api/layers/areas/", {"datum": "utm"}, None),
        # Not signed in, and a record that is not there.
        ("/api/cases/board/", {}, "not_authenticated"),
        ("/api/layers/areas/{id}/", {}, "not_found"),
    ],
)
def test_errors_answered_match_the_schema(
    loop: dict[str, User], small_city: dict[str, Area], path: str, query: dict[str, str],
    code: str | None,
) -> None:  # fmt: skip
    client = Client()
    if code != "not_authenticated":
        client.force_login(loop["admin"])
    document = served_schema(Client())
    operation = schemathesis.openapi.from_dict(document)[path]["GET"]
    answered = client.get(path.replace("{id}", "999999999"), query)
    assert 400 <= answered.status_code < 500, answered.content
    assert str(answered.status_code) in document["paths"][path]["get"]["responses"]
    body = answered.json()
    if code is None:
        assert body["datum"], body  # the parameter at fault, with its messages
    else:
        assert body["code"] == code, body
    response = Response(
        status_code=answered.status_code,
        headers={key: [value] for key, value in answered.headers.items()},
        content=answered.content,
        request=requests.Request("GET", f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=True,
    )
    operation.validate_response(response)  # raises what does not match
