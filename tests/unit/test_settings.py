"""Settings: defaults, environment and file sources, and the one-line refusal of a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, load_settings


def test_defaults_are_local_and_safe() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.database_url is None


def test_environment_values_are_converted() -> None:
    settings = load_settings(
        {"BROKER_PORT": "9000", "BROKER_DATABASE_POOL_MAX": "7", "BROKER_STATE_DIR": "/tmp/x"}
    )
    assert settings.port == 9000
    assert settings.database_pool_max == 7
    assert settings.state_dir == Path("/tmp/x")


def test_sandbox_port_follows_the_sandbox_config_unless_set() -> None:
    assert load_settings({}).sandbox_port is None  # sandbox.toml's 8443
    assert load_settings({"BROKER_SANDBOX_PORT": "0"}).sandbox_port == 0  # a free port
    assert load_settings({"BROKER_SANDBOX_PORT": "9443"}).sandbox_port == 9443


def test_environment_overrides_config_file(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('port = 9100\nlog_level = "debug"\n')
    settings = load_settings({"BROKER_CONFIG_FILE": str(config), "BROKER_PORT": "9200"})
    assert settings.port == 9200
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("environ", "variable", "says"),
    [
        ({"BROKER_PORT": "abc"}, "BROKER_PORT", "whole number"),
        ({"BROKER_PORT": "70000"}, "BROKER_PORT", "<= 65535"),
        ({"BROKER_SANDBOX_PORT": "abc"}, "BROKER_SANDBOX_PORT", "whole number"),
        ({"BROKER_SANDBOX_PORT": "-1"}, "BROKER_SANDBOX_PORT", ">= 0"),
        ({"BROKER_LOG_LEVEL": "loud"}, "BROKER_LOG_LEVEL", "invalid enum value"),
        ({"BROKER_DATABASE_URL": "mysql://x"}, "BROKER_DATABASE_URL", "postgresql://"),
        ({"BROKER_REDIS_URL": "http://x"}, "BROKER_REDIS_URL", "redis://"),
        ({"BROKER_DATABASE_POOL_MIN": "0"}, "BROKER_DATABASE_POOL_MIN", ">= 1"),
        ({"BROKER_DATABASE_POOL_MAX": "3"}, "BROKER_DATABASE_POOL_MAX", ">= 4"),
        (
            {"BROKER_DATABASE_POOL_MIN": "9", "BROKER_DATABASE_POOL_MAX": "5"},
            "BROKER_DATABASE_POOL_MIN",
            "must not exceed",
        ),
        ({"BROKER_DATABASE_RUNTIME_ROLE": "x; drop"}, "BROKER_DATABASE_RUNTIME_ROLE", "role name"),
        ({"BROKER_CONFIG_FILE": "/nonexistent/broker.toml"}, "BROKER_CONFIG_FILE", "cannot read"),
    ],
)
def test_invalid_value_names_the_variable(environ: dict[str, str], variable: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert says in message
    assert "\n" not in message


def test_unknown_key_in_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="BROKER_PROT: is not a known setting"):
        load_settings({"BROKER_CONFIG_FILE": str(config)})


def test_database_url_error_does_not_echo_the_url() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"BROKER_DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("BROKER_PORT", "abc"), ("BROKER_LOG_FORMAT", "xml"), ("BROKER_DATABASE_URL", "sqlite://")],
)
def test_cli_prints_one_line_and_exits_non_zero(variable: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    env[variable] = value
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"brp-broker: {variable}: ")
    assert "Traceback" not in done.stderr
