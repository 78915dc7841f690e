"""The sandbox, like RvIG, answers 400 to a body that is not JSON text (bad UTF-8, deep nesting)."""

from __future__ import annotations

import pytest

from app.brp import API_PATHS, Api
from tests.integration.gateway.test_undecodable_bodies import BAD_BODIES
from tests.integration.sandbox.client import SandboxClient


@pytest.mark.parametrize("api", list(Api))
@pytest.mark.parametrize("name", BAD_BODIES)
def test_undecodable_body_is_400(brp: SandboxClient, api: Api, name: str) -> None:
    response = brp.post(API_PATHS[api], BAD_BODIES[name])
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "Request body is geen geldige JSON."
