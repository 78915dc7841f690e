"""What a serving process sets for itself, once, because it was measured to matter.

Both are process-wide, so they live here and are applied by `app.server` in the process that
serves (one process, or each worker), never by the app or a request:

- `size_tls_read_buffers`: asyncio gives every TLS connection a 256 KiB read buffer, filled at
  once, for as long as the connection lives. At 256 connections to RvIG that was ~64 MB of the
  process's 210 MB (`tests/benchmarks/scale_out.py`, c256 over a +100 ms upstream). A TLS record
  holds at most 16 KiB of data, so a buffer of two whole records (~33 KiB) loses nothing: 137 MB
  at the same load, with the same throughput and p99. (With `BROKER_EVENT_LOOP=uvloop` TLS is
  uvloop's own, with buffers of its own size; this setting then changes nothing.)
- `freeze_startup_heap`: what the app loaded at start (tables, schemas, tenants, code) lives as long
  as the process. Left in the collector's oldest generation, every full collection walked all of
  it again: ~65 ms with the loop stopped, about once a second at c256, never finding garbage
  there. Frozen (`gc.freeze`: moved to a permanent generation that collections ignore), a full
  collection walks only what came later. The price is bounded: a frozen object that later dies in a
  reference cycle (say, part of the first tenant snapshot, replaced on reload) is freed only at the
  thaw. That is at most once what the start loaded, never more with time: objects made after the
  freeze are collected as always. `thaw_startup_heap` gives everything back when the app's lifespan
  ends (an app in a test's process).
"""

from __future__ import annotations

import asyncio.sslproto
import gc
from typing import Final

__all__ = ["TLS_READ_BUFFER_BYTES", "freeze_startup_heap", "size_tls_read_buffers", "thaw_startup_heap"]

# Two whole TLS records: at most 16 KiB of data plus 256 bytes of header, MAC and padding each.
TLS_READ_BUFFER_BYTES: Final = 2 * (16 * 1024 + 256)


def size_tls_read_buffers(size: int = TLS_READ_BUFFER_BYTES) -> None:
    """Make each asyncio TLS connection opened from now on read into a buffer of `size` bytes."""
    # A class attribute of the standard library's SSL protocol (`asyncio.sslproto`), read when a
    # connection is made; a test checks the memory of real connections, so a Python release that
    # stops reading it fails there rather than silently costing the memory again.
    asyncio.sslproto.SSLProtocol.max_size = size


def freeze_startup_heap() -> None:
    """Move every object alive now out of reach of later collections (after the app started)."""
    gc.collect()
    gc.freeze()


def thaw_startup_heap() -> None:
    """Give the frozen objects back to the collector (when the app's lifespan ended)."""
    gc.unfreeze()
