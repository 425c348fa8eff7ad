"""Generated over the app's route table: every console route (``/v1/console/...``, the
console's relay among them) declares one scope through :func:`api.credentials.require`, refuses
a request without a credential (401) and a token without its scope (403
``insufficient_scope``), so a new route cannot forget its check."""

from __future__ import annotations

import re
from typing import Any

from api_helpers import assert_problem, bearer, sign_in
from eth_account import Account
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.credentials import TOKEN_SCOPES, ScopeCheck

CONSOLE = "/v1/console"


def scope_checks(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, ScopeCheck):
            found.append(sub.call.scope)
        found.extend(scope_checks(sub))
    return found


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of a route table, through the routers it includes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            found.extend(api_routes(list(included.routes)))
    return found


def console_routes(client: TestClient) -> list[tuple[str, str, APIRoute]]:
    app: Any = client.app
    routes = [
        (method, route.path, route)
        for route in api_routes(list(app.routes))
        if route.path.startswith(CONSOLE)
        for method in sorted(route.methods)
    ]
    # nothing the app publishes under the console escapes the walk
    published = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(CONSOLE)
        for method in operations
    }
    assert published == {(method, path) for method, path, _ in routes}
    return routes


def concrete(path: str) -> str:
    """The path with a well-formed value in each parameter (the check comes before them)."""
    return re.sub(r"\{[^}]+\}", lambda m: "tok_0123456789abcdef" if "token" in m[0] else "x1", path)


def test_every_console_route_declares_exactly_one_scope(client: TestClient) -> None:
    routes = console_routes(client)
    paths = {path for _, path, _ in routes}
    assert {f"{CONSOLE}/tokens", f"{CONSOLE}/relay", f"{CONSOLE}/whoami"} <= paths
    undeclared = [
        f"{method} {path}"
        for method, path, route in routes
        if len(scope_checks(route.dependant)) != 1
    ]
    assert undeclared == [], "console routes without exactly one require(scope)"


def test_every_console_route_refuses_no_credential_and_a_token_without_its_scope(
    client: TestClient,
) -> None:
    session = sign_in(client, Account.create())
    tokens: dict[str, str] = {}

    def token_without(scope: str) -> str:
        if scope not in tokens:
            scopes = [s for s in TOKEN_SCOPES if s != scope]
            response = client.post(
                f"{CONSOLE}/tokens",
                json={"name": f"without {scope}", "scopes": scopes},
                headers=bearer(session),
            )
            assert response.status_code == 201, response.text
            tokens[scope] = response.json()["token"]
        return tokens[scope]

    checked: list[str] = []
    for method, path, route in console_routes(client):
        (scope,) = scope_checks(route.dependant)
        url = concrete(path)
        body: dict[str, Any] = {}
        anonymous = client.request(method, url, json=body)
        assert_problem(anonymous, 401, "unauthorized")
        refused = client.request(method, url, json=body, headers=bearer(token_without(scope)))
        problem = assert_problem(refused, 403, "insufficient_scope")
        assert problem["required_scope"] == scope
        checked.append(f"{method} {path}")
    assert len(checked) >= 5
