"""A TCP relay in front of the database, that takes it away on purpose.

:class:`TcpProxy` listens on a loopback port and relays each connection to the target port. A
test points the server's ``--db`` at the proxy, then:

* :meth:`TcpProxy.go_away`: every relayed connection is cut, and new ones are closed as soon as
  they are accepted (the database is gone, as when it restarts);
* :meth:`TcpProxy.go_quiet`: connections stay open but nothing more is relayed either way, and
  new ones are accepted and never answered (a database that froze, or a network that drops
  everything);
* :meth:`TcpProxy.come_back`: connections are relayed again (those cut stay cut).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Literal

__all__ = ["TcpProxy"]

State = Literal["up", "away", "quiet"]
_POLL = 0.05


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.state: State = "up"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._listener.getsockname()[1]
        return port

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._cut_all()
        self._listener.close()

    def go_away(self) -> None:
        self.state = "away"
        self._cut_all()

    def go_quiet(self) -> None:
        self.state = "quiet"

    def come_back(self) -> None:
        if self.state == "quiet":
            self._cut_all()  # what was held would arrive out of turn: those connections end
        self.state = "up"

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.state == "away":
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                if self.state == "quiet":
                    self._stopping.wait(_POLL)
                    continue
                readable, _, _ = select.select(list(peers), [], [], _POLL)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut
        finally:
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            for sock in (client, upstream):
                sock.close()
