"""One leased attempt: its handler, its heartbeats, and exactly one ending of its lease.

A refused heartbeat (the run cancelled the step, or the lease lapsed and another worker has it)
sets ``ctx.cancelled``; whatever the handler returns after that is dropped, since the runtime would
refuse it. At shutdown the worker gives a step still running back (``release``) instead.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from ._http import PoolApi

MAX_LOGS = 50
_CODE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")

Logger = Callable[[dict[str, Any]], None]


class StepError(Exception):
    """A failure with a code; ``retryable=False`` for one no retry can fix."""

    def __init__(self, message: str, code: str = "worker.error", retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


def fatal(message: str, code: str = "worker.fatal") -> StepError:
    return StepError(message, code, retryable=False)


def route(lease: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The handler's name and its input: ``external.task`` names it by ``kind``, other types by type."""
    inp = lease.get("input") or {}
    if lease.get("type") == "external.task" and isinstance(inp.get("kind"), str):
        payload = inp.get("payload")
        return inp["kind"], payload if isinstance(payload, dict) else {}
    return lease["type"], inp


def heartbeat_every(lease: dict[str, Any]) -> float:
    """Seconds: a third of the tightest bound the runtime holds the lease to, within 0.1 .. 10 s."""
    bound = min(lease.get("heartbeatTimeoutMs") or float("inf"), lease.get("timeoutMs") or float("inf"))
    return max(0.1, min(10.0, (bound // 3) / 1000))


def failure(err: BaseException) -> dict[str, Any]:
    """A raised exception as the runtime's failure: its code if well formed, retryable unless marked."""
    code = getattr(err, "code", None)
    return {
        "code": code if isinstance(code, str) and _CODE.match(code) else "worker.error",
        "message": (str(err) or type(err).__name__)[:2000],
        "retryable": getattr(err, "retryable", True) is not False,
    }


@dataclass
class Context:
    """What a handler gets besides its input."""

    run_id: str
    step_id: str
    attempt: int
    type: str
    kind: str
    upstream: dict[str, Any]
    timeout_ms: int
    #: Set when the attempt is no longer this worker's (cancelled, lapsed, or released at shutdown).
    cancelled: threading.Event
    _owner: "Attempt" = field(repr=False)

    def wait(self, seconds: float) -> bool:
        """Sleeps up to ``seconds``; True (at once) if the attempt was cancelled meanwhile."""
        return self.cancelled.wait(seconds)

    def log(self, message: str, level: str = "info", **fields: Any) -> None:
        """A line in the step's event log (sent with the result; the run keeps the first 50)."""
        self._owner.add_log(level, message, fields)

    def artifact(self, name: str, data: bytes | str, content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Uploads an artifact of this attempt; it is named in the result automatically."""
        return self._owner.upload(name, data.encode() if isinstance(data, str) else data, content_type)

    def heartbeat(self) -> bool:
        """An extra heartbeat (they are sent on their own too); False once the lease is over."""
        return self._owner.beat()


class Attempt:
    def __init__(self, lease: dict[str, Any], api: PoolApi, handlers: dict[str, Callable[..., Any]],
                 logger: Logger, heartbeat_s: float | None = None) -> None:
        self.lease = lease
        self.api = api
        self.handlers = handlers
        self.logger = logger
        self.heartbeat_s = heartbeat_s or heartbeat_every(lease)
        self.at = f"/leases/{urllib.parse.quote(lease['id'], safe='')}"
        self.cancelled = threading.Event()
        self.done = threading.Event()  # the handler returned and its result (if wanted) was sent
        self._ended = False
        self._lock = threading.Lock()
        self._logs: list[dict[str, Any]] = []
        self._artifacts: list[str] = []

    def run(self) -> None:
        kind, inp = route(self.lease)
        self.note("leased", kind=kind)
        beats = threading.Thread(target=self._beat_loop, daemon=True)
        beats.start()
        try:
            body = self._execute(kind, inp)
            if self._claim():
                if self._logs:
                    body["logs"] = self._logs
                self.note("reported", outcome=body["outcome"], status=self._send("/result", body))
        finally:
            self.done.set()

    def release(self) -> None:
        """The worker is going away: give the step back unless a result already ended the lease."""
        if not self._claim():
            return
        self.cancelled.set()
        self.note("released", status=self._send("/release", {}))

    def _execute(self, kind: str, inp: dict[str, Any]) -> dict[str, Any]:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise StepError(f"this worker has no handler for '{kind}'", "worker.no_handler", False)
            ctx = Context(self.lease["runId"], self.lease["stepId"], self.lease["attempt"], self.lease["type"],
                          kind, self.lease.get("upstream") or {}, self.lease.get("timeoutMs", 0), self.cancelled, self)
            output = handler(inp, ctx)
            output = {} if output is None else output
            if not isinstance(output, dict):
                raise StepError("a handler returns a dict (or None)", "worker.bad_output", False)
            return {"outcome": "succeeded", "output": output, "artifacts": list(self._artifacts)}
        except Exception as err:  # noqa: BLE001 - every handler failure is reported, never raised
            return {"outcome": "failed", "error": failure(err)}

    def _send(self, path: str, body: dict[str, Any]) -> int | str:
        try:
            return self.api.call("POST", self.at + path, json_body=body).status
        except Exception as err:  # noqa: BLE001 - unreachable: the lease lapses in the runtime
            return str(err)

    def _claim(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def _beat_loop(self) -> None:
        # The first beat at once claims the lease: one unused for LEASE_CLAIM_MS is given back.
        if not self.beat():
            return
        while not self.done.wait(self.heartbeat_s):
            if not self.beat():
                return

    def beat(self) -> bool:
        if self._ended:
            return False
        try:
            answer = self.api.call("POST", self.at + "/heartbeat", json_body={})
        except Exception:  # noqa: BLE001 - unreachable: keep working, keep trying
            return not self._ended
        if answer.status == 200:
            return not self._ended
        if self._claim():
            self.cancelled.set()
            self.note("lapsed", status=answer.status)
        return False

    def add_log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        if len(self._logs) < MAX_LOGS:
            line: dict[str, Any] = {"level": level, "message": str(message)[:2000]}
            if fields:
                line["fields"] = fields
            self._logs.append(line)
        self.note("log", level=level, message=message, **fields)

    def upload(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        path = f"{self.at}/artifacts/{urllib.parse.quote(name, safe='')}"
        answer = self.api.call("PUT", path, data=data, content_type=content_type)
        if answer.status != 201:
            raise StepError(f"upload of '{name}' answered {answer.status}")
        if name not in self._artifacts:
            self._artifacts.append(name)
        return answer.body

    def note(self, msg: str, **extra: Any) -> None:
        """The worker's own log line: it names the attempt, never the lease id (a secret)."""
        lease = self.lease
        self.logger({"msg": msg, "runId": lease["runId"], "stepId": lease["stepId"],
                     "attempt": lease["attempt"], **extra})
