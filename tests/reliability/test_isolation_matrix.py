"""Tenant isolation matrix over every operation of the served OpenAPI document.

CPTS ``a`` gets one object of each kind (request with a recognisable patient,
held and booked orientation, slot, plage, professional, SAS request). Then, for
every operation the running server documents (routers added later included):

* every role of CPTS ``b``, aimed at ``a``'s objects (path and body ids):
  403 (role not allowed) or 404 (object of another CPTS), never 2xx;
* every role of CPTS ``a`` that the route does not allow (read from the route's
  ``roles(...)`` dependency at run time): 403;
* no answer to a ``b`` token contains anything of ``a``'s (patient name and
  phone, professional and site names);
* afterwards ``a``'s objects read the same as before (nothing changed by a
  refused call).
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from api.app import create_app
from snp.actors import Role
from snp.db import make_engine
from tests.reliability.conftest import (
    ServerFactory,
    World,
    build_world,
    publish_slots,
    request_body,
)
from tests.reliability.traffic import report

ROLES = (Role.OPERATOR, Role.REGULATOR, Role.COORDINATOR, Role.PROFESSIONAL)
PATIENT = {"display_name": "Zéphyrine Secretname-A", "phone": "06 98 76 54 32"}
MARKERS = ("Secretname-A", "06 98 76 54 32", "DocA", "Cabinet a")
UNAUTHENTICATED = {"/healthz", "/fhir/metadata"}


def allowed_roles(tmp: Path) -> dict[tuple[str, str], frozenset[Role] | None]:
    """(METHOD, path) → the roles its ``roles(...)`` dependency admits (None: any)."""
    app = create_app(engine=make_engine(f"sqlite:///{tmp / 'introspect.db'}"), sweep_seconds=0)
    found: dict[tuple[str, str], frozenset[Role] | None] = {}
    # FastAPI ≥ 0.13x nests included routers; their effective routes carry the full path.
    pending: list[tuple[str | None, Any]] = [(None, r) for r in app.routes]
    while pending:
        full_path, item = pending.pop()
        for candidate in getattr(item, "effective_candidates", lambda: [])():
            pending.append((getattr(candidate, "path", None), candidate))
        route = getattr(item, "original_route", item)
        if not isinstance(route, APIRoute):
            continue
        roles: frozenset[Role] | None = None
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            stack.extend(dep.dependencies)
            for cell in getattr(dep.call, "__closure__", None) or ():
                value = cell.cell_contents
                if (
                    isinstance(value, frozenset)
                    and value
                    and all(isinstance(r, Role) for r in value)
                ):
                    roles = value
        for method in route.methods or ():
            found[(method, full_path or route.path)] = roles
    return found


def _user_id(header: dict[str, str]) -> int:
    payload = header["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["sub"])


def _a_objects(world: World) -> dict[str, int]:
    slots = publish_slots(world, "a", 2, 2)
    r = world.call("a.operator", "POST", "/requests", request_body(patient=PATIENT))
    assert r.status_code == 201, r.text
    request_id = r.json()["request"]["id"]
    held = world.call("a.operator", "POST", f"/requests/{request_id}/holds", {"slot_id": slots[0]})
    assert held.status_code == 201, held.text
    booked = world.call("a.operator", "POST", f"/orientations/{held.json()['id']}/booking")
    assert booked.status_code == 200, booked.text
    sas = world.call(
        "a.regulator",
        "POST",
        "/sas/requests",
        request_body(patient=PATIENT),
        headers={"Idempotency-Key": "isolation-1"},
    )
    assert sas.status_code == 201, sas.text
    plage = {
        "weekday": "monday",
        "start": "10:00",
        "end": "11:00",
        "valid_from": "2026-01-05",
        "slot_minutes": 20,
        "capacity": 1,
    }
    p = world.call("a.professional", "POST", "/plages", plage)
    assert p.status_code == 201, p.text
    return {
        "request_id": request_id,
        "orientation_id": held.json()["id"],
        "slot_id": slots[1],
        "plage_id": p.json()["id"],
        "professional_id": world.ids["a.pro"],
        "cpts_id": world.ids["a"],
        "user_id": _user_id(world.headers["a.operator"]),
    }


def _example(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    media = next(iter(content.values()), None)
    if media is None:
        return None
    schema = media.get("schema", {})
    ref = schema.get("$ref") or next(
        (s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None
    )
    if ref:
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    examples = schema.get("examples") or [media.get("example", {})]
    return examples[0] if examples else {}


def _required_query(operation: dict[str, Any]) -> dict[str, str]:
    """A plausible value for each required query parameter (so that a 422 never
    hides the 403/404 under test)."""
    values = {}
    for param in operation.get("parameters", []):
        if param.get("in") != "query" or not param.get("required"):
            continue
        schema = param.get("schema", {})
        if "example" in param or "examples" in schema or "default" in schema:
            value = param.get("example", (schema.get("examples") or [schema.get("default")])[0])
        elif schema.get("format") == "date":
            value = "2026-11-26"
        elif "period" in param["name"] or "\\d{2}$" in schema.get("pattern", ""):
            value = "2026-11"
        elif schema.get("type") == "integer":
            value = 1
        else:
            value = "x"
        values[param["name"]] = str(value)
    return values


def _aim_at_a(body: Any, ids: dict[str, int]) -> Any:
    """Point every id field of the example body at ``a``'s objects."""
    if isinstance(body, dict):
        return {k: ids.get(k, _aim_at_a(v, ids)) for k, v in body.items()}
    if isinstance(body, list):
        return [_aim_at_a(v, ids) for v in body]
    return body


def _snapshot(world: World, ids: dict[str, int]) -> dict[str, Any]:
    paths = [
        f"/requests/{ids['request_id']}",
        f"/orientations/{ids['orientation_id']}",
        f"/slots/{ids['slot_id']}",
        f"/plages/{ids['plage_id']}",
        f"/professionals/{ids['professional_id']}",
        "/requests",
        "/orientations",
    ]
    return {p: world.call("a.coordinator", "GET", p).json() for p in paths}


def test_every_operation_isolates_tenants_and_roles(
    serve: ServerFactory, database_url: str, tmp_path: Path
) -> None:
    server = serve(workers=2)
    world = build_world(server.base_url, database_url)
    ids = _a_objects(world)
    before = _snapshot(world, ids)
    with world.client() as c:
        spec = c.get("/openapi.json").json()
    allowed = allowed_roles(tmp_path)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    operations = 0
    with world.client() as c:
        for template, methods in spec["paths"].items():
            if template in UNAUTHENTICATED:
                continue
            for method, operation in methods.items():
                operations += 1
                params = set(re.findall(r"{(\w+)}", template))
                path = template
                for name in params:
                    path = path.replace(f"{{{name}}}", str(ids.get(name, 1)))
                aimed = bool(params & ids.keys())
                body = _aim_at_a(_example(spec, operation), ids)
                aimed = aimed or json.dumps(body) != json.dumps(_example(spec, operation))
                roles = allowed.get((method.upper(), template))
                for code in ("a", "b"):
                    for role in ROLES:
                        permitted = roles is None or role in roles
                        if code == "a" and permitted:
                            continue  # the owner's own legitimate calls: tests/api
                        r = c.request(
                            method.upper(),
                            path,
                            params=_required_query(operation),
                            json=body,
                            headers=world.headers[f"{code}.{role}"],
                        )
                        where = f"{method.upper()} {template} as {code}.{role}"
                        outcomes[f"{code} {r.status_code}"] += 1
                        if r.status_code >= 500:
                            failures.append(f"{where}: {r.status_code}")
                        if code == "b" and any(m in r.text for m in MARKERS):
                            failures.append(f"{where}: answer shows CPTS a's data: {r.text[:200]}")
                        if not permitted and r.status_code != 403:
                            failures.append(f"{where}: role not allowed, got {r.status_code}")
                        elif code == "b" and aimed and r.status_code not in (403, 404):
                            failures.append(f"{where} at a's objects: got {r.status_code}")
    after = _snapshot(world, ids)
    report(
        "isolation_matrix",
        {
            "backend": database_url.split(":", 1)[0],
            "operations": operations,
            "calls": sum(outcomes.values()),
            "statuses": dict(outcomes),
            "failures": len(failures),
        },
    )
    assert not failures, "\n".join(failures[:40])
    assert after == before, "a refused call changed CPTS a's objects"
    assert not server.unexpected_errors()
