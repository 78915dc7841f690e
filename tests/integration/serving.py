"""`brp-broker serve` in a subprocess, as an operator runs it: a config file, `BROKER_*` and `OTEL_*`
variables, signals. Its output is read by a thread, so a test can wait for a log line (no sleeps)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import msgspec
import tomli_w

from app.settings import Settings
from tests.support.servers import free_port

__all__ = ["ServeProcess", "serve_environment"]

# Limits no test here means to reach.
_UNLIMITED = {
    f"BROKER_RATELIMIT_{key}_{kind}": "10000"
    for key in ("TENANT", "AFNEMER", "EMPLOYEE")
    for kind in ("RATE", "BURST")
}


def serve_environment(settings: Settings, folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `serve` reaching the sandbox like `settings` does, on a free port.

    The structured settings (identities, the sandbox's URLs, the dev IdP's CA) go into a config file
    in `folder`; `extra` adds or overrides variables. No `BROKER_*`/`OTEL_*` of the test runner leaks in.
    """
    document = {
        "identities": msgspec.to_builtins(settings.identities, enc_hook=str),
        "environments": {"sandbox": msgspec.to_builtins(settings.environments["sandbox"])},
        "idp_ca_bundle": str(settings.idp_ca_bundle),
        "idp_identity": settings.idp_identity,
    }
    config = folder / "broker.toml"
    config.write_bytes(tomli_w.dumps(document).encode())
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "OTEL_"))}
    return {
        **inherited,
        **_UNLIMITED,
        "BROKER_CONFIG_FILE": str(config),
        "BROKER_DATABASE_URL": database_url,
        "BROKER_PORT": str(free_port()),
        "BROKER_LOG_FORMAT": "json",
        **extra,
    }


class ServeProcess:
    """`python -m app.cli serve ...` with `env`; `with` kills it if the test did not stop it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = int(env["BROKER_PORT"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """Everything it printed so far (logs on stderr included)."""
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, text: str, count: int = 1, timeout: float = 90) -> None:
        """Block until `text` appeared in `count` lines; fail if the process ended first."""

        def found() -> int:
            return sum(text in line for line in self._lines)

        with self._changed:
            self._changed.wait_for(lambda: found() >= count or self._ended, timeout=timeout)
            if found() < count:
                raise AssertionError(f"no {count} x {text!r} in the output:\n{''.join(self._lines)}")

    def started(self, workers: int = 1) -> ServeProcess:
        """Wait until every worker's app has started; return self."""
        self.wait_for("Application startup complete", count=workers)
        return self

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 90) -> int:
        """Send `signum`, wait for the exit, and return the exit status."""
        self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 90) -> int:
        """Wait for the exit (and its last output); return the exit status."""
        status = self.process.wait(timeout=timeout)
        with self._changed:
            self._changed.wait_for(lambda: self._ended, timeout=timeout)
        return status

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()
