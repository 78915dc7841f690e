"""RvIG's 400s over real HTTPS: every case of the shared table, answered exactly as RvIG does."""

from __future__ import annotations

import pytest

from tests.brp_invalid_requests import INVALID_REQUESTS, InvalidRequestCase
from tests.integration.sandbox.client import SandboxClient


def test_the_table_is_large_enough() -> None:
    assert len(INVALID_REQUESTS) >= 60


@pytest.mark.parametrize("case", INVALID_REQUESTS, ids=[case.id for case in INVALID_REQUESTS])
def test_invalid_request_gets_rvigs_exact_problem(brp: SandboxClient, case: InvalidRequestCase) -> None:
    # A gemeente's token: RvIG checks no fields or parameters for it, so nothing but validation answers.
    response = brp.post(case.path, case.body, afnemer_id="000001")

    assert response.status_code == case.status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == case.expected_problem()
