"""The workers' shared listening socket: every connection accepted from it has TCP_NODELAY.

uvicorn's `bind_socket` makes the socket with protocol 0, and asyncio sets TCP_NODELAY only on
sockets whose protocol is IPPROTO_TCP. Without it a response written in two parts (headers, then
body) waits for the client's delayed ACK: ~40 ms a request, and `serve --workers 2` answered four
times fewer requests than one process.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
import uvloop

from app.server import tcp_listener


async def _nodelay_of_an_accepted_connection(listener: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            connection = transport.get_extra_info("socket")
            accepted.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        host, port = listener.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        nodelay = await accepted
        writer.close()
        return nodelay
    finally:
        server.close()
        await server.wait_closed()


async def test_a_connection_accepted_from_the_workers_socket_has_tcp_nodelay() -> None:
    listener = tcp_listener(uvicorn.Config(app=None, host="127.0.0.1", port=0))
    assert listener.proto == socket.IPPROTO_TCP
    assert await _nodelay_of_an_accepted_connection(listener) != 0


async def test_uvicorn_s_own_socket_would_not_have_it() -> None:
    # What the workers were given before: the reason for `tcp_listener`.
    listener = uvicorn.Config(app=None, host="127.0.0.1", port=0).bind_socket()
    assert await _nodelay_of_an_accepted_connection(listener) == 0


def test_with_uvloop_too_a_connection_from_the_workers_socket_has_tcp_nodelay() -> None:
    # BROKER_EVENT_LOOP=uvloop serves the workers' socket with libuv, which sets it on its own terms.
    listener = tcp_listener(uvicorn.Config(app=None, host="127.0.0.1", port=0))
    assert uvloop.run(_nodelay_of_an_accepted_connection(listener)) != 0
