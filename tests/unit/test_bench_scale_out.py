"""The pure parts of the scale-out benchmark: wrk's report, /proc's stat lines, templates, the verdicts."""

from __future__ import annotations

import msgspec
import pytest

from tests.benchmarks.scale_out import (
    ANCHOR,
    Memory,
    Row,
    WrkRun,
    busiest_share,
    parse_batch_records,
    parse_preemptions,
    parse_stat,
    parse_wrk,
    process_tree,
    render,
    table,
    verdicts,
)

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:40000/haalcentraal/api/brp/personen
  2 threads and 16 connections
  Non-2xx or 3xx responses: 4
WRKJSON {"requests":1004,"duration_us":5000000,"lat_p50_us":12500,"lat_p99_us":48000,"lat_max_us":90000,\
"err_connect":1,"err_read":2,"err_write":0,"err_status":4,"err_timeout":3}
"""


def test_wrk_report_counts_only_2xx_answers_as_throughput() -> None:
    run = parse_wrk(WRK_OUTPUT)

    assert run.requests == 1004
    assert run.rps == pytest.approx(200.0)
    assert (run.p50_ms, run.p99_ms) == (12.5, 48.0)
    assert (run.non_2xx, run.socket_errors, run.errors) == (4, 6, 10)


def test_wrk_output_without_the_report_line_names_what_wrk_said() -> None:
    with pytest.raises(ValueError, match="unable to connect"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_stat_line_with_spaces_and_parentheses_in_the_command_name() -> None:
    fields = ["S", "42", *["0"] * 9, "150", "25", *["0"] * 30]
    text = f"1234 (python (worker) 1) {' '.join(fields)}\n"

    assert parse_stat(text) == (42, 175)


def test_preemptions_are_the_involuntary_context_switches_of_the_status_file() -> None:
    status = "Name:\tpython\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"

    assert parse_preemptions(status) == 7
    with pytest.raises(ValueError, match="nonvoluntary"):
        parse_preemptions("Name:\tpython\n")


def test_batch_records_add_up_every_outcome_of_the_writers_histogram() -> None:
    metrics = "\n".join(
        [
            "# HELP brp_broker_protocol_batch_records Protocol records per group commit, by outcome.",
            'brp_broker_protocol_batch_records_bucket{le="1.0",outcome="committed"} 10.0',
            'brp_broker_protocol_batch_records_sum{outcome="committed"} 48.0',
            'brp_broker_protocol_batch_records_count{outcome="committed"} 12.0',
            'brp_broker_protocol_batch_records_sum{outcome="failed"} 2.0',
            'brp_broker_protocol_batch_records_count{outcome="failed"} 1.0',
            'brp_broker_protocol_commit_seconds_sum{outcome="committed"} 0.5',
        ]
    )

    assert parse_batch_records(metrics) == (50.0, 13.0)
    assert parse_batch_records("") == (0.0, 0.0)


def test_process_tree_holds_descendants_only() -> None:
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}

    assert sorted(process_tree(10, parents)) == [10, 11, 12, 13]
    assert process_tree(99, parents) == [99]


def test_render_fills_every_placeholder_and_names_a_missing_one() -> None:
    assert render("listen @HOST@:@PORT@;", {"HOST": "127.0.0.1", "PORT": "8"}) == "listen 127.0.0.1:8;"
    with pytest.raises(KeyError, match="PORT"):
        render("listen @PORT@;", {})


@pytest.mark.parametrize("name", ["upstream-nginx.conf", "proxy-nginx.conf", "post.lua"])
def test_copied_anchor_files_carry_their_attribution(name: str) -> None:
    first = (ANCHOR / name).read_text().splitlines()[0]

    assert "from ../shared/bench/anchor, the workload issue #13 was measured with" in first


def test_anchor_confs_have_only_placeholders_the_benchmark_fills() -> None:
    values = {
        "CERTS": "/c",
        "RUN_DIR": "/r",
        "UPSTREAM_PORT": "1",
        "UPSTREAM_DELAY_PORT": "2",
        "LISTEN_PORT": "3",
    }
    for name in ("upstream-nginx.conf", "proxy-nginx.conf"):
        assert "@" not in render((ANCHOR / name).read_text(), values)


def test_the_busiest_process_share_is_of_the_cpu_used_between_the_readings() -> None:
    # A supervisor (1), a worker that did nearly everything (2), one that idled (3), one started
    # between the readings (4): the share counts what each used meanwhile, not what it had before.
    before = {1: 5.0, 2: 100.0, 3: 100.0}
    after = {1: 5.1, 2: 109.0, 3: 100.4, 4: 0.5}

    assert busiest_share(before, after) == pytest.approx(9.0 / 10.0)
    assert busiest_share(before, before) == 1.0


def _run(rps: float, p99: float) -> WrkRun:
    return WrkRun(
        requests=int(rps * 10), seconds=10.0, p50_ms=p99 / 2, p99_ms=p99, non_2xx=0, socket_errors=0
    )


def _row(
    processes: int | None, tenants: int | None, rps: float, p99: float, rss_mb: float, cpu: float
) -> Row:
    return Row(
        gateway="nginx" if processes is None else "brp-broker",
        processes=processes,
        tenants=tenants,
        c16=_run(rps * 10, 1.0),
        cpu_ms=cpu,
        postgres_cpu_ms=None if processes is None else 0.1,
        c256=_run(rps, p99),
        rss=Memory(largest=int(rss_mb * 2**20), total=int(rss_mb * 2**20) * (processes or 1)),
        token_requests=None if processes is None else (processes or 1) * (tenants or 1),
    )


def test_targets_met_when_some_process_count_reaches_nginx_and_throughput_never_drops() -> None:
    rows = [
        _row(None, None, 2500, 150, 18, 0.03),
        _row(1, 1, 1000, 440, 120, 0.35),
        _row(2, 1, 2100, 200, 120, 0.38),
    ]

    lines = verdicts(rows)

    assert all(line.endswith("met") for line in lines), lines
    assert "2 processes 0.84× / 1.33×" in lines[0]


def test_targets_missed_when_throughput_drops_or_memory_and_cpu_are_too_high() -> None:
    rows = [
        _row(None, None, 2500, 150, 18, 0.03),
        _row(1, 8, 1000, 440, 174, 0.83),
        _row(2, 8, 300, 480, 171, 1.38),
    ]

    missed = [line for line in verdicts(rows) if line.endswith("MISSED")]

    assert len(missed) == 5  # nginx ratio, c16 and c256 growth, RSS, CPU
    assert any("1,000 → 300" in line for line in missed)


def test_table_has_a_line_per_row_with_the_ratios_to_nginx() -> None:
    broker = msgspec.structs.replace(_row(2, 8, 2000, 300, 120, 0.5), preempted=3.5, batch_records=4.3)
    rows = [_row(None, None, 2500, 150, 18, 0.03), broker]

    text = table(rows).splitlines()

    assert len(text) == 4
    assert "0.80× / 2.00×" in text[3]
    assert text[3].endswith("| 3.50 | 4.3 |")
    assert text[2].endswith("| – | – |")  # no figures


def test_the_stack_floor_is_measured_beside_the_broker_but_judged_by_no_target() -> None:
    floor = msgspec.structs.replace(_row(1, None, 9000, 100, 400, 0.33), floor=True, loop="asyncio")
    rows = [
        _row(None, None, 2500, 150, 18, 0.03),
        floor,
        msgspec.structs.replace(_row(1, 1, 2100, 200, 120, 0.35), loop="asyncio"),
    ]

    lines = verdicts(rows)

    # The floor's 400 MB and its throughput would miss targets if it were taken for a broker.
    assert not any("MISSED" in line for line in lines), lines
    assert any("the stack floor costs 0.330 ms of the broker's 0.350 ms" in line for line in lines)
    assert any("own work: 0.020 ms" in line for line in lines)


def test_a_busy_floor_is_no_measure_of_what_the_stack_costs() -> None:
    busy = msgspec.structs.replace(_row(1, None, 900, 100, 90, 0.9), floor=True, loop="asyncio", busy_ms=0.5)
    rows = [_row(None, None, 2500, 150, 18, 0.03), busy, _row(1, 1, 1000, 440, 120, 0.35)]

    assert not any("stack floor" in line for line in verdicts(rows))


def test_each_event_loop_is_judged_on_its_own_rows() -> None:
    rows = [
        _row(None, None, 2500, 150, 18, 0.03),
        msgspec.structs.replace(_row(1, 1, 1000, 440, 120, 0.35), loop="asyncio"),
        msgspec.structs.replace(_row(1, 1, 2100, 200, 120, 0.38), loop="uvloop"),
    ]

    latency = [line for line in verdicts(rows) if "throughput ≥" in line]

    assert [line.split(": ", 1)[0] for line in latency] == ["1 tenant, asyncio", "1 tenant, uvloop"]
    assert [line.rsplit(": ", 1)[1] for line in latency] == ["MISSED", "met"]
    assert all("never drops" not in line for line in verdicts(rows))  # one process per loop: no growth


def test_the_floor_with_more_processes_shows_whether_the_stack_alone_drops_but_is_no_target() -> None:
    # c16 drops from 2 to 4 processes; c256 over the slow upstream does not.
    floors = [
        msgspec.structs.replace(
            _row(processes, None, c16 / 10, 100, 100, cpu), c256=_run(c256, 100), floor=True, loop="asyncio"
        )
        for processes, c16, c256, cpu in ((1, 3000, 1500, 0.33), (2, 3600, 1900, 0.35), (4, 2700, 1950, 0.6))
    ]
    rows = [
        _row(None, None, 2500, 150, 18, 0.03),
        *floors,
        msgspec.structs.replace(_row(1, 1, 2100, 200, 120, 0.35), loop="asyncio"),
    ]

    lines = verdicts(rows)

    floor_lines = [line for line in lines if line.startswith("the stack floor, asyncio (no target")]
    assert [line.rsplit(": ", 1)[1] for line in floor_lines] == ["no", "yes"]
    assert "c16 rps with 1/2/4 processes 3,000 → 3,600 → 2,700" in floor_lines[0]
    assert "c256 +100 ms rps with 1/2/4 processes 1,500 → 1,900 → 1,950" in floor_lines[1]
    assert not any("MISSED" in line for line in lines), lines
    # What the stack costs is the 1-process floor's figure, beside the 1-process broker's.
    assert any("the stack floor costs 0.330 ms of the broker's 0.350 ms" in line for line in lines)
