"""CPU per log line: the request line, and a debug line below the level, through `app.logging` and
through the configuration it replaced (the baseline: structlog's stdlib `BoundLogger`, a
`LogRecord` per line, `ProcessorFormatter`, structlog's `JSONRenderer`; same redaction).

Run:  .venv/bin/python -m tests.benchmarks.log_line_cost [--lines 50000] [--rounds 3]

Lines go to an in-memory stream, so this is the processors' and renderer's cost, without the write.
"""

from __future__ import annotations

import argparse
import io
import logging
import time

import structlog

from app.logging import _drop_exception_text, configure_logging, redact


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


def _configure_baseline(stream: io.StringIO) -> None:
    """The configuration before: every line a stdlib `LogRecord`, formatted by structlog's formatter."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_exception_text,
        redact,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)


def _configure(*, baseline: bool) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    if baseline:
        _configure_baseline(stream)
    structlog.contextvars.bind_contextvars(correlation_id="c0ffee-1234", tenant="amsterdam")


def main() -> None:
    """Print µs of CPU per line for both configurations, alternating, over several rounds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        for round_ in range(1, args.rounds + 1):
            for baseline in (True, False):
                _configure(baseline=baseline)
                dropped = _per_line(args.lines, debug=True)
                request = _per_line(args.lines, debug=False)
                label = "baseline (stdlib)" if baseline else "app.logging"
                print(
                    f"round {round_}  {label:18}  debug line dropped {dropped:6.1f} µs"
                    f"   request line {request:6.1f} µs"
                )
    finally:
        configure_logging("info", "json")


if __name__ == "__main__":
    main()
