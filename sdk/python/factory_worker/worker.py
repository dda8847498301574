"""``Worker``: lease Factory Runtime steps and run them in this process, on threads.

Each of ``concurrency`` slot threads long-polls the pool for a lease and runs its step's handler;
each attempt heartbeats on its own thread. ``run()`` blocks until ``stop()`` (or SIGTERM/SIGINT):
leasing stops, in-flight steps may finish within the shutdown grace, and those still running then
are given back (released) so that another worker takes them at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable

from ._attempt import Attempt, Context, Logger
from ._http import PoolApi, Retry

Handler = Callable[[dict[str, Any], Context], "dict[str, Any] | None"]


def _stderr_logger(line: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()


class TokenRefused(Exception):
    """The runtime refused this worker's token for its pool (revoked, wrong pool, unknown)."""


class Worker:
    def __init__(self, url: str, token: str, pool: str = "external", *, labels: dict[str, str] | None = None,
                 kinds: list[str] | None = None, concurrency: int = 1, worker_id: str | None = None,
                 wait_ms: int = 3_000, heartbeat_s: float | None = None, shutdown_grace_s: float = 3.5,
                 retry: Retry | None = None, logger: Logger | None = None) -> None:
        self.api = PoolApi(url, token, pool, retry)
        self.pool = pool
        self.labels = dict(labels or {})
        self.kinds = kinds
        self.concurrency = max(1, int(concurrency))
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        # Under the shutdown grace: a long poll in progress never holds up the exit.
        self.wait_ms = wait_ms
        self.heartbeat_s = heartbeat_s
        self.shutdown_grace_s = shutdown_grace_s
        self.logger = logger or _stderr_logger
        self.handlers: dict[str, Handler] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: set[Attempt] = set()
        self._fatal: Exception | None = None

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        """Registers the decorated function for steps of ``kind``."""

        def register(fn: Handler) -> Handler:
            self.handlers[kind] = fn
            return fn

        return register

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running)

    def run(self, *, handle_signals: bool = True) -> None:
        """Leases and runs steps until stopped; returns once in-flight steps finished or were released."""
        previous: dict[int, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda signum, _frame: self._on_signal(signum))
        try:
            self._serve()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)  # the process's own handling again, once drained

    def _serve(self) -> None:
        # external.task steps are routed by pool alone: the task's `kind`, in its input, picks the handler.
        kinds = self.kinds if self.kinds is not None else sorted(self.handlers) + ["external.task"]
        self.logger({"msg": "started", "workerId": self.worker_id, "pool": self.pool, "kinds": kinds,
                     "concurrency": self.concurrency})
        slots = [threading.Thread(target=self._slot, args=(kinds,), daemon=True) for _ in range(self.concurrency)]
        for t in slots:
            t.start()
        self._stopping.wait()
        # Slots still polling (at most ``wait_ms``) or giving back a step leased as the stop began
        # are waited for; one stuck in a handler that ignores ``cancelled`` is not, past this bound.
        until = time.monotonic() + self.shutdown_grace_s + 1.0
        self._drain()
        for t in slots:
            t.join(timeout=max(0.0, until - time.monotonic()))
        if self._fatal:
            raise self._fatal

    def stop(self) -> None:
        """Stops leasing; ``run()`` then drains and returns."""
        self._stopping.set()

    def _on_signal(self, signum: int) -> None:
        self.logger({"msg": "shutting down", "signal": signal.Signals(signum).name, "inFlight": self.in_flight})
        self.stop()

    def _drain(self) -> None:
        """In-flight steps may finish within the grace; those still running then are given back."""
        deadline = threading.Event()
        timer = threading.Timer(self.shutdown_grace_s, deadline.set)
        timer.daemon = True
        timer.start()
        while not deadline.is_set():
            with self._lock:
                pending = [a for a in self._running if not a.done.is_set()]
            if not pending:
                break
            pending[0].done.wait(0.05)
        timer.cancel()
        with self._lock:
            left = list(self._running)
        releasers = [threading.Thread(target=a.release, daemon=True) for a in left]
        for t in releasers:
            t.start()
        for t in releasers:
            t.join()

    def _slot(self, kinds: list[str]) -> None:
        body: dict[str, Any] = {"waitMs": self.wait_ms, "kinds": kinds, "workerId": self.worker_id}
        if self.labels:
            body["labels"] = self.labels
        while not self._stopping.is_set():
            try:
                answer = self.api.call("POST", "/leases", json_body=body, timeout=self.wait_ms / 1000 + 30,
                                       stop=self._stopping)
            except Exception as err:  # noqa: BLE001 - unreachable: wait, then try again
                if not self._stopping.is_set():
                    self.logger({"msg": "lease call failed", "error": str(err)})
                    self._stopping.wait(1.0)
                continue
            if answer.status == 204:
                continue
            if answer.status == 200:
                self._execute(answer.body["lease"])
                continue
            self.logger({"msg": "lease refused", "status": answer.status, "body": answer.body})
            if answer.status in (401, 403, 404):
                self._fatal = TokenRefused(f"the runtime refused this worker's token for pool '{self.pool}'")
                self.stop()
                return
            self._stopping.wait(1.0)

    def _execute(self, lease: dict[str, Any]) -> None:
        attempt = Attempt(lease, self.api, self.handlers, self.logger, self.heartbeat_s)
        with self._lock:
            self._running.add(attempt)
        try:
            if self._stopping.is_set():
                attempt.release()  # leased as the worker began to stop: give it back at once
            else:
                attempt.run()
        finally:
            with self._lock:
                self._running.discard(attempt)
