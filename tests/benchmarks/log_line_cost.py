"""CPU per log line: the request line, and a debug line below the level, with and without the
level filter in front of the processors (the baseline: every processor ran, then stdlib dropped it).

Run:  .venv/bin/python -m tests.benchmarks.log_line_cost [--lines 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import time

import structlog

from app.logging import configure_logging


def _per_line(lines: int, *, debug: bool) -> float:
    log = structlog.get_logger("bench")
    started = time.process_time()
    for _ in range(lines):
        if debug:
            log.debug("upstream_call", api="personen", status=200, seconds=0.0123, afnemer="000101")
        else:
            log.info(
                "request", method="POST", path="/haalcentraal/api/brp/personen", status=200, duration_ms=12.3
            )
    return (time.process_time() - started) / lines * 1e6


def _configure(*, filtered: bool) -> None:
    configure_logging("info", "json", io.StringIO())
    if not filtered:
        # The configuration before the filter: the same processors, without it in front.
        processors = [
            p for p in structlog.get_config()["processors"] if p is not structlog.stdlib.filter_by_level
        ]
        structlog.configure(processors=processors)
    structlog.contextvars.bind_contextvars(correlation_id="c0ffee-1234", tenant="amsterdam")


def main() -> None:
    """Print µs of CPU per line for both configurations, alternating, over several rounds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for round_ in range(1, args.rounds + 1):
        for filtered in (False, True):
            _configure(filtered=filtered)
            dropped = _per_line(args.lines, debug=True)
            request = _per_line(args.lines, debug=False)
            label = "level filter first" if filtered else "baseline (no filter)"
            print(
                f"round {round_}  {label:22}  debug line dropped {dropped:6.1f} µs"
                f"   request line {request:6.1f} µs"
            )


if __name__ == "__main__":
    main()
