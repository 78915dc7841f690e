"""The redaction processor: nothing secret or personal survives into a log line."""

from __future__ import annotations

import io
import json
import logging

import structlog

from app.logging import REDACTED, configure_logging, redact


def _redacted(**event: object) -> dict[str, object]:
    return redact(None, "info", dict(event))


def test_bsn_in_text_and_as_number_is_removed() -> None:
    out = _redacted(event="lookup of 999993653 done", bsn_as_int=999993653, ok=12345)
    assert "999993653" not in json.dumps(out)
    assert out["bsn_as_int"] == REDACTED
    assert out["ok"] == 12345


def test_bearer_token_and_jwt_are_removed() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    out = _redacted(event="upstream said", header="Bearer abc.def-ghi", raw=f"token={jwt}")
    assert "abc.def-ghi" not in json.dumps(out)
    assert jwt not in json.dumps(out)
    assert out["header"] == f"Bearer {REDACTED}"


def test_secret_keys_are_removed_at_any_depth() -> None:
    out = _redacted(
        event="token request",
        client_secret="s3cr3t",
        form={"client_id": "abc", "client_secret": "s3cr3t", "nested": [{"password": "pw"}]},
        access_token="xyz",
    )
    text = json.dumps(out)
    assert "s3cr3t" not in text
    assert "pw" not in text.replace("password", "")
    assert "xyz" not in text
    assert out["form"]["client_id"] == "abc"  # type: ignore[index]


def test_password_in_url_is_removed() -> None:
    out = _redacted(event="connect", url="postgresql://app:hunter2@db:5432/brp")
    assert "hunter2" not in json.dumps(out)


def test_library_log_lines_pass_the_same_redaction() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        logging.getLogger("some.library").warning("retrying for 999993653 with Bearer tok.en")
        try:
            raise ValueError("body had 999993653")
        except ValueError:
            structlog.get_logger("app.test").exception("failed")
    finally:
        configure_logging("info", "json")
    text = stream.getvalue()
    assert "999993653" not in text
    assert "tok.en" not in text
    assert "Traceback" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[1]["exception_type"] == "ValueError"


def test_traceback_formatted_into_a_message_is_removed() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        logging.getLogger("uvicorn.error").error(
            'Startup failed\nTraceback (most recent call last):\n  File "x.py", line 1\nValueError: 999993653'
        )
    finally:
        configure_logging("info", "json")
    line = json.loads(stream.getvalue())
    assert line["event"] == "Startup failed"
    assert line["traceback_removed"] is True
    assert "x.py" not in stream.getvalue()


class _Opaque:
    """A value the JSON renderer cannot encode: it used to be rendered by its repr, unredacted."""

    def __repr__(self) -> str:
        return "Query(burgerservicenummer=['999993653'], token='Bearer abc.def')"


def test_a_value_rendered_by_its_repr_is_redacted_too() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        structlog.get_logger("app.test").info("query", query=_Opaque(), queries=[_Opaque()])
    finally:
        configure_logging("info", "json")
    assert "999993653" not in stream.getvalue()
    assert "abc.def" not in stream.getvalue()
    line = json.loads(stream.getvalue())
    assert line["query"].startswith("Query(")


def test_our_lines_and_library_lines_share_one_form_and_stream() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        with structlog.contextvars.bound_contextvars(correlation_id="c-1"):
            structlog.get_logger("app.test").info("ours", n=1)
            logging.getLogger("some.library").warning("theirs")
    finally:
        configure_logging("info", "json")
    ours, theirs = (json.loads(line) for line in stream.getvalue().splitlines())
    assert ours | {"timestamp": None} == {
        "event": "ours",
        "n": 1,
        "correlation_id": "c-1",
        "level": "info",
        "logger": "app.test",
        "timestamp": None,
    }
    assert ours["timestamp"].endswith("Z")
    assert theirs["level"] == "warning"
    assert theirs["logger"] == "some.library"
    assert theirs["correlation_id"] == "c-1"


def test_a_logger_used_before_follows_a_new_configuration() -> None:
    log = structlog.get_logger("app.test")
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "json", first)
    try:
        log.info("one")
        log.debug("below the level")
        configure_logging("debug", "json", second)
        log.debug("two")
    finally:
        configure_logging("info", "json")
    assert [json.loads(line)["event"] for line in first.getvalue().splitlines()] == ["one"]
    assert [json.loads(line)["event"] for line in second.getvalue().splitlines()] == ["two"]


class _Watched:
    rendered = False

    def __repr__(self) -> str:
        _Watched.rendered = True
        return "watched"


def test_a_line_below_the_level_runs_no_processor() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        structlog.get_logger("app.test").debug("dropped", value=_Watched())
    finally:
        configure_logging("info", "json")
    assert stream.getvalue() == ""
    assert not _Watched.rendered


def test_keys_added_after_redaction_cannot_carry_the_callers_values() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        structlog.get_logger("app.test").info(
            "spoof", level="999993653", logger="999993653", timestamp="999993653"
        )
    finally:
        configure_logging("info", "json")
    assert "999993653" not in stream.getvalue()
