"""The serving process's own settings: TLS read buffers sized to what a TLS record needs.

Measured on real TLS connections in this process (both ends are asyncio's), with tracemalloc, so a
Python release that stops honouring the size fails here instead of silently costing the memory
again (README → Performance: 256 RvIG connections were ~64 MB of a 210 MB process).
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import ssl
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.pki import DevPki, ensure_dev_pki
from app.tuning import TLS_READ_BUFFER_BYTES, size_tls_read_buffers

_CONNECTIONS = 16
KIB = 1024


@pytest.fixture
def standard_buffers() -> Iterator[None]:
    """asyncio's own buffer size during the test, and whatever it was before afterwards."""
    before = asyncio.sslproto.SSLProtocol.max_size
    asyncio.sslproto.SSLProtocol.max_size = 256 * KIB
    yield
    asyncio.sslproto.SSLProtocol.max_size = before


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(Path(tmp_path_factory.mktemp("pki")), [])


async def _memory_per_connection(pki: DevPki) -> int:
    """Bytes held per open TLS connection (client and server end together), after one exchange."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki.server_cert, pki.server_key)
    client_context = ssl.create_default_context(cafile=pki.ca_cert)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(1))
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        connections = []
        for _ in range(_CONNECTIONS):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
            )
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"
            connections.append(writer)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    return held // _CONNECTIONS


@pytest.mark.usefixtures("standard_buffers")
async def test_asyncio_s_own_buffers_hold_a_quarter_megabyte_per_connection_end(pki: DevPki) -> None:
    # What the broker paid per RvIG connection before: the reason for `size_tls_read_buffers`.
    assert await _memory_per_connection(pki) > 2 * 256 * KIB


@pytest.mark.usefixtures("standard_buffers")
async def test_sized_buffers_hold_what_two_tls_records_need(pki: DevPki) -> None:
    size_tls_read_buffers()
    per_connection = await _memory_per_connection(pki)
    assert per_connection < 2 * (TLS_READ_BUFFER_BYTES + 32 * KIB)


@pytest.mark.usefixtures("standard_buffers")
async def test_an_answer_larger_than_the_buffer_arrives_whole(pki: DevPki) -> None:
    # RvIG's answers to searches run to megabytes; the smaller buffer only means more reads.
    size_tls_read_buffers()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki.server_cert, pki.server_key)
    answer = bytes(range(256)) * (8 * 1024)  # 2 MiB

    async def send_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(send_answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl.create_default_context(cafile=pki.ca_cert), server_hostname="localhost"
        )
        received = await reader.read()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert received == answer
