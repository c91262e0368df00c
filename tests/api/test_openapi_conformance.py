"""Schemathesis: property-based requests generated from the OpenAPI document; every response must be documented
(status, content type, schema) and no request may cause a server error. Runs on SpatiaLite with the sample county,
signed in as an administrator (the authorization matrix is test_auth.py);
the POST routes that change data are covered by test_api.py.

One check is left out: ``positive_data_acceptance`` (a request the schema allows must not get a 4xx). The schema
cannot say everything the service validates — a code's 19/28-character structure, a CRS other than the county's,
a bbox whose minimum exceeds its maximum — and those get a Chinese problem response by design (test_api.py checks
them one by one)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import create_app
from api.deps import ServiceSettings

SEMANTIC = [positive_data_acceptance]


@pytest.mark.parametrize("loaded_registry", ["spatialite"], indirect=True)
def test_api_conforms_to_its_openapi_document(loaded_registry, monkeypatch):
    from argon2 import PasswordHasher

    from cadastre.core import auth
    from cadastre.core.auth import SignInThrottle

    # schemathesis sends wrong Basic credentials again and again: past a few, throttling answers 429 by design
    # (test_desktop_gis.py, test_auth.py); here only the 401 of each wrong attempt is the contract under test
    throttle, loaded_registry.sign_in_throttle = loaded_registry.sign_in_throttle, SignInThrottle(
        free=10**9, address_free=10**9)
    # and each wrong name is checked against a dummy Argon2id hash that costs what a real one costs (auth.py): with
    # two such probes per example the test took 95 s, 25 s with a cheap dummy; what a check costs is not its subject
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("no password matches this")
    monkeypatch.setattr(auth, "_dummy_hash", lambda: cheap)
    app = create_app(loaded_registry, ServiceSettings())
    headers = {"Authorization": f"Bearer {loaded_registry.tokens_by_role['admin']}"}
    with TestClient(app):  # runs the lifespan: registry and worker on app.state
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(method="GET")
        checked = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            # 20 examples an operation (was 30): 40 operations now, and the suite keeps to its 15 minutes
            @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def run(case):
                case.call_and_validate(headers=headers, excluded_checks=SEMANTIC)

            run()
            checked.append(operation.label)
    loaded_registry.sign_in_throttle = throttle
    assert len(checked) >= 15, checked
