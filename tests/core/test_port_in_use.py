"""`hub serve` and `hub worker --metrics-port` refuse a port another process listens on,
and take one that a crashed server's connections hold only in TIME_WAIT."""

from __future__ import annotations

import socket

from hub.sandbox import port_in_use


def test_a_port_someone_listens_on_is_in_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert port_in_use("127.0.0.1", server.getsockname()[1])


def test_a_port_left_in_time_wait_by_a_server_that_died_is_free() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's side closes first (as the kernel does for a killed process)
    server.close()
    client.recv(1)  # the client sees the end and closes: the server's side is in TIME_WAIT
    client.close()
    with socket.socket() as plain:  # what a bind without SO_REUSEADDR says
        try:
            plain.bind(("127.0.0.1", port))
            held = False
        except OSError:
            held = True
    assert held, "the connection did not stay in TIME_WAIT: the test proves nothing"
    assert not port_in_use("127.0.0.1", port)
