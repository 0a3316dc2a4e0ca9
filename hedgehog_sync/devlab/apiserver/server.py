"""Running a devlab API server in a background thread: start_apiserver and its handle."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import uvicorn

from hedgehog_sync.devlab.apiserver.app import DevlabApp, create_app
from hedgehog_sync.devlab.apiserver.cluster import ClusterObjectStore
from hedgehog_sync.devlab.apiserver.constants import HOST
from hedgehog_sync.devlab.apiserver.faults import FaultRules
from hedgehog_sync.devlab.apiserver.kubeconfig import write_kubeconfig
from hedgehog_sync.devlab.apiserver.store import FabricStore
from hedgehog_sync.devlab.apiserver.tls import IssuedCertificate, ServerTLS


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    return sock


def _uvicorn_server(app: DevlabApp, tls: ServerTLS | None) -> uvicorn.Server:
    context = tls.context() if tls is not None else None
    config = uvicorn.Config(
        app,
        host=HOST,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        ssl_context_factory=(lambda _config, _default: context) if context is not None else None,
    )
    return uvicorn.Server(config)


class _Autosaver:
    """Saves a store to its state file every `interval` seconds when it changed, and once at the end."""

    def __init__(self, store: FabricStore, path: Path, interval: float = 1.0):
        self._store, self._path, self._interval = store, path, interval
        self._saved = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devlab-apiserver-autosave", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.save()

    def save(self) -> None:
        changes = self._store.changes
        if changes != self._saved:
            self._store.save(self._path)
            self._saved = changes

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.save()


class ApiServerHandle:
    """A devlab API server running in a background thread; stop it, or use it as a context manager."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        sock: socket.socket,
        app: DevlabApp,
        autosaver: _Autosaver | None,
        tls: ServerTLS | None = None,
    ):
        self._server, self._thread, self._sock, self._autosaver = server, thread, sock, autosaver
        self.app = app
        self.tls = tls
        self.port: int = sock.getsockname()[1]
        self.url = f"{'https' if tls is not None else 'http'}://{HOST}:{self.port}"

    @property
    def store(self) -> FabricStore:
        return self.app.store

    @property
    def faults(self) -> FaultRules:
        return self.app.faults

    @property
    def cluster(self) -> ClusterObjectStore | None:
        return self.app.cluster

    @property
    def ca_pem(self) -> bytes | None:
        """The CA (PEM) this server's certificate is checked against; None when it serves plain HTTP."""
        return self.tls.ca.cert_pem if self.tls is not None else None

    def fabric_url(self, fabric: str) -> str:
        """The `server:` URL of a fabric's kubeconfig."""
        return f"{self.url}/fabrics/{fabric}"

    def write_kubeconfig(
        self,
        fabric: str,
        path: str | os.PathLike[str],
        context: str | None = None,
        *,
        client_certificate: IssuedCertificate | None = None,
    ) -> Path:
        """Write a kubeconfig for one fabric of this server (trusting its CA); the context is named after the fabric."""
        token = self.store.token(fabric)
        if token is None:
            raise ValueError(f"fabric {fabric} has no token")
        return write_kubeconfig(
            path, self.fabric_url(fabric), token, context or fabric, ca_pem=self.ca_pem,
            client_certificate=client_certificate,
        )

    def client_certificate(self, user: str = "devlab-user") -> IssuedCertificate:
        """A client certificate this server accepts (signed by its client CA)."""
        if self.tls is None or self.tls.client_ca is None:
            raise ValueError("this devlab API server takes no client certificates")
        return self.tls.client_ca.issue(user, client=True)

    def stop(self) -> None:
        """Stop serving (idempotent); afterwards connections to the port are refused."""
        self.app.stopping.set()
        self._server.should_exit = True
        self._close_idle_tls_connections()
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._sock.close()
        if self._autosaver is not None:
            self._autosaver.stop()
            self._autosaver = None

    def _close_idle_tls_connections(self) -> None:
        """Close idle keep-alive connections at once: a TLS close otherwise waits for the client's answer."""
        if self.tls is None:
            return
        for connection in list(self._server.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport, loop = getattr(connection, "transport", None), getattr(connection, "loop", None)
            if transport is not None and loop is not None and (cycle is None or cycle.response_complete):
                try:
                    loop.call_soon_threadsafe(transport.abort)
                except RuntimeError:  # the loop has already closed
                    pass

    def __enter__(self) -> ApiServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_apiserver(
    store: FabricStore,
    *,
    port: int = 0,
    faults: FaultRules | None = None,
    state_path: str | os.PathLike[str] | None = None,
    ready_timeout: float = 10.0,
    cluster: ClusterObjectStore | None = None,
    tls: ServerTLS | None = None,
    plain_http: bool = False,
) -> ApiServerHandle:
    """Serve a store on 127.0.0.1 (port 0 = a free port) in a background thread, once it accepts requests.

    It speaks HTTPS with `tls`, by default a CA and certificate made now (`handle.tls`, written into
    every kubeconfig the handle writes); plain HTTP only with `plain_http=True`.
    With `cluster`, every served name also answers for built-in objects (Jobs, Secrets, ...) kept there.
    """
    if plain_http and tls is not None:
        raise ValueError("plain_http=True and tls are exclusive")
    if not plain_http and tls is None:
        tls = ServerTLS.generate()
    app = create_app(store, faults, cluster)
    sock = _listening_socket(port)
    server = _uvicorn_server(app, tls)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"devlab-apiserver-{sock.getsockname()[1]}",
        daemon=True,
    )
    autosaver = _Autosaver(store, Path(state_path)) if state_path is not None else None
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the devlab API server did not start")
        time.sleep(0.005)
    if autosaver is not None:
        autosaver.start()
    return ApiServerHandle(server, thread, sock, app, autosaver, tls)
