"""What the scripted HTTP servers of the tests (fake_registry.FakeRegistry, fault_front.FaultFront) share: a
request handler base that turns away TLS probes, keeps quiet, records the status it answers, and can end a
connection with a TCP reset. Standard library only."""

from __future__ import annotations

import http.server
import socket
import struct


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end, so no handler thread outlives a test by long
    _entry = None  # the logged request being answered: an object with a `status` field (0 until answered)

    def handle(self) -> None:
        # Clients that try HTTPS first send a TLS ClientHello (record type 0x16) to this plain socket. The base
        # class would wait for a newline that may never come; close at once so the client falls back to HTTP.
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first or first[0] == 0x16:
            self.tls_probe()
            return
        super().handle()

    def tls_probe(self) -> None:
        """Called for each connection turned away by handle(); subclasses count them."""

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def send_response(self, code, message=None) -> None:
        if self._entry is not None and self._entry.status == 0:
            self._entry.status = code
        super().send_response(code, message)

    def reset_on_close(self) -> None:
        """Make the connection end with RST instead of FIN (SO_LINGER 0), as a dying proxy or load balancer
        does, and end it after this request."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
