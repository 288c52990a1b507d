"""A TCP proxy on 127.0.0.1 in front of a server, for tests of a server that goes away: while
it is :meth:`~TCPProxy.cut`, every connection through it is closed and new ones are closed at
once; :meth:`~TCPProxy.restore` lets them through again. Real OS threads: for the tests'
unpatched process."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.support.threads import start_thread

_CHUNK = 65536


class TCPProxy:
    """Forwards the connections made to ``127.0.0.1:port`` to ``(host, target_port)``.

    :ivar port: the port it listens on (a free one)
    """

    def __init__(self, host: str, target_port: int) -> None:
        self._target = (host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = True
        self._closed = False
        start_thread(self._accept)

    def cut(self) -> None:
        """Close every connection, and close each new one at once, until :meth:`restore`."""
        with self._lock:
            self._up = False
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        """Let connections through again."""
        with self._lock:
            self._up = True

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            start_thread(lambda a=client, b=server: self._pump(a, b))
            start_thread(lambda a=server, b=client: self._pump(a, b))

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def tcp_proxy(host: str, port: int) -> Iterator[TCPProxy]:
    """A :class:`TCPProxy` to ``(host, port)``, closed on exit."""
    proxy = TCPProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()
