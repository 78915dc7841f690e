"""The protocol append plans its statements once per connection, not once per tenant (migration 0021).

Left to itself, PostgreSQL chose a new custom plan for the append's main statement for every tenant
of every small batch; planning cost as much as executing. The plan PostgreSQL runs is read from
auto_explain, whose LOG lines reach the client when `client_min_messages` is `log`: a custom plan
carries the tenant's slug as a constant, a generic plan a parameter.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from app.protocol import write_batch
from app.protocol.chain import chained
from tests.integration.protocol.factories import consulted, record, slug

# PostgreSQL uses custom plans for a statement's first five executions whatever it decides after.
_PAST_THE_CUSTOM_PLAN_PHASE = 8


async def _plans_of_the_append(admin_url: str, tenant: str) -> list[str]:
    """The plans of the append's main statement, one per batch of one record."""
    connection = await asyncpg.connect(admin_url)
    plans: list[str] = []
    connection.add_log_listener(lambda _, message: plans.append(str(message.message)))
    try:
        try:
            await connection.execute("LOAD 'auto_explain'")
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("auto_explain needs a superuser of the test server")
        await connection.execute(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
            "SET client_min_messages = log; SET ROLE brp_app"
        )
        for n in range(_PAST_THE_CUSTOM_PLAN_PHASE):
            entry = chained(record(tenant, consulted(f"99999{n:04d}")))
            await write_batch(connection, [entry], dt.datetime.now(dt.UTC))
    finally:
        await connection.close()
    return [plan for plan in plans if "Insert on protocol_persons" in plan]


async def test_the_append_runs_one_generic_plan_for_every_tenant(fresh_url: str) -> None:
    tenant = slug()
    plans = await _plans_of_the_append(fresh_url, tenant)

    assert len(plans) == _PAST_THE_CUSTOM_PLAN_PHASE
    assert all(tenant not in plan for plan in plans), "a plan was made for this tenant's values"
    assert all("$" in plan for plan in plans)


async def test_the_generic_plan_setting_is_part_of_the_function(fresh_url: str) -> None:
    # A later CREATE OR REPLACE of the function drops its SET clauses unless it states them again.
    connection = await asyncpg.connect(fresh_url)
    try:
        config = await connection.fetchval(
            "SELECT proconfig FROM pg_proc WHERE oid = 'broker.protocol_append_linked(jsonb)'::regprocedure"
        )
    finally:
        await connection.close()

    assert "plan_cache_mode=force_generic_plan" in config
