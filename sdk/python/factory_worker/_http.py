"""The SDK's HTTP calls to the runtime's pull API, retried while they may be.

Network errors, 5xx and 429 (with its Retry-After) are retried with capped exponential backoff
and full jitter. Retrying every lease call is safe because the runtime fences them: a duplicate
heartbeat only extends the same lease, an artifact upload overwrites the same attempt's bytes, and
a second result or release of a spent lease is refused (404/409) without changing anything.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Retry:
    """Tries in all (the first included), and the backoff's base and cap in milliseconds."""

    attempts: int = 6
    base_ms: int = 200
    max_ms: int = 5_000


@dataclass(frozen=True)
class Answer:
    """An answer the runtime gave (not retried further)."""

    status: int
    body: Any


class UnreachableError(Exception):
    """No answer within the retries (network down, runtime failing)."""


def backoff(policy: Retry, n: int, retry_after: str | None, rand: Callable[[], float] = random.random) -> float:
    """Seconds before retry ``n`` (1-based): the server's Retry-After, or full jitter under the cap."""
    if retry_after is not None:
        try:
            seconds = float(retry_after)
            if seconds >= 0:
                return min(seconds, policy.max_ms / 1000)
        except ValueError:
            pass
    return int(rand() * min(policy.max_ms, policy.base_ms * 2 ** (n - 1))) / 1000


def _sleep(seconds: float) -> bool:
    threading.Event().wait(seconds)
    return False


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class PoolApi:
    """Calls under ``/v1/pools/{pool}`` with the worker's bearer token."""

    def __init__(self, url: str, token: str, pool: str, retry: Retry | None = None) -> None:
        self.base = f"{url.rstrip('/')}/v1/pools/{urllib.parse.quote(pool, safe='')}"
        self.token = token
        self.retry = retry or Retry()

    def call(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
             content_type: str | None = None, timeout: float = 30.0,
             stop: threading.Event | None = None) -> Answer:
        """One call, retried while it may be; ``stop`` (set at shutdown) ends the retries early."""
        headers = {"authorization": f"Bearer {self.token}"}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["content-type"] = "application/json"
        elif data is not None:
            body = data
            headers["content-type"] = content_type or "application/octet-stream"
        last: Exception | None = None
        for n in range(1, self.retry.attempts + 1):
            retry_after: str | None = None
            request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as res:
                    return Answer(res.status, _parse(res.read()))
            except urllib.error.HTTPError as err:
                raw = err.read()
                if not _retryable(err.code):
                    return Answer(err.code, _parse(raw))
                retry_after = err.headers.get("retry-after")
                last = UnreachableError(f"{method} {path}: {err.code} {raw[:200]!r}")
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                last = UnreachableError(f"{method} {path}: {err}")
            if n == self.retry.attempts:
                break
            pause = backoff(self.retry, n, retry_after)
            if stop.wait(pause) if stop else _sleep(pause):
                break
        raise last or UnreachableError(f"{method} {path}: no answer")
