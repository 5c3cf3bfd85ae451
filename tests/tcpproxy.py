"""A local TCP proxy whose link can be cut and restored, for database and broker fault tests.

Runs on its own thread (the code under test may block its event loop or use
blocking sockets). ``cut()`` closes every open connection abruptly and stops
listening, so new connections are refused: to a client it looks like the
server went away. ``restore()`` listens again on the same port.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading

_RESET = struct.pack("ii", 1, 0)  # linger on, 0 s: close sends RST, like a dead server


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._listen()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.cut()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            listener.close()
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                s.close()

    def restore(self) -> None:
        self._listen()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
                pairs = list(self._pairs)
            sel = selectors.DefaultSelector()
            try:
                if listener is not None:
                    sel.register(listener, selectors.EVENT_READ, None)
                for a, b in pairs:
                    sel.register(a, selectors.EVENT_READ, b)
                    sel.register(b, selectors.EVENT_READ, a)
                ready = sel.select(0.05)
            except (OSError, ValueError):
                continue  # a socket was closed by cut() meanwhile
            finally:
                sel.close()
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if key.data is None:
                    self._accept(sock)
                else:
                    self._pump(sock, key.data)

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
            server = socket.create_connection(self.target, timeout=2)
        except OSError:
            return
        client.setblocking(True)
        with self._lock:
            self._pairs.append((client, server))

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            data = src.recv(65536)
            if data:
                dst.sendall(data)
                return
        except OSError:
            pass
        with self._lock:
            self._pairs = [p for p in self._pairs if src not in p]
        src.close()
        dst.close()
