"""The Python worker SDK against an in-process fake of the pool API over real HTTP.

The real runtime is exercised by test/e2e/worker-sdks.test.ts.
"""

from __future__ import annotations

import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from factory_worker import (PoolApi, Retry, StepError, TokenRefused, UnreachableError, Worker, backoff, failure,
                            fatal, heartbeat_every, route)

Special = Callable[[str, str, Any], "tuple[int, Any] | None"]


class FakePool:
    """Hands out ``leases`` in order, then 204s; ``special`` may answer any call instead."""

    def __init__(self, leases: list[dict[str, Any]], special: Special | None = None) -> None:
        self.leases = list(leases)
        self.calls: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        pool = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                self.answer()

            def do_PUT(self) -> None:
                self.answer()

            def answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.removeprefix("/v1/pools/external")
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode()
                with pool.lock:
                    pool.calls.append((self.command, path, body))
                status, out = pool.respond(self.command, path, body)
                data = b"" if out is None else json.dumps(out).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.special = special
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def respond(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.special:
            got = self.special(method, path, body)
            if got:
                return got
        if path == "/leases":
            with self.lock:
                lease = self.leases.pop(0) if self.leases else None
            if lease:
                return 200, {"lease": lease}
            time.sleep(0.02)
            return 204, None
        if "/artifacts/" in path:
            return 201, {"name": path.rsplit("/", 1)[1], "size": len(body or ""), "sha256": "ab" * 32}
        return 200, {"ok": True}

    def ends(self) -> list[tuple[str, Any]]:
        with self.lock:
            return [(p, b) for (_m, p, b) in self.calls if p.endswith("/result") or p.endswith("/release")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lease(step: str, inp: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": f"lse_{step}", "runId": "run_1", "stepId": step, "attempt": 1, "type": "external.task",
            "input": inp, "upstream": {}, "timeoutMs": 60_000, "heartbeatTimeoutMs": None, **more}


def until(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def quiet(_line: dict[str, Any]) -> None:
    pass


def start(worker: Worker) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def go() -> None:
        try:
            worker.run(handle_signals=False)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            errors.append(err)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, errors


class PureParts(unittest.TestCase):
    def test_route(self) -> None:
        self.assertEqual(route(lease("a", {"kind": "lint", "payload": {"x": 1}})), ("lint", {"x": 1}))
        self.assertEqual(route(lease("a", {"kind": "lint"})), ("lint", {}))
        self.assertEqual(route(lease("a", {"files": 3}, type="acme.lint")), ("acme.lint", {"files": 3}))

    def test_heartbeat_pacing(self) -> None:
        self.assertEqual(heartbeat_every(lease("a", {}, heartbeatTimeoutMs=1_500)), 0.5)
        self.assertEqual(heartbeat_every(lease("a", {}, timeoutMs=600_000)), 10.0)
        self.assertEqual(heartbeat_every(lease("a", {}, timeoutMs=90)), 0.1)

    def test_failure(self) -> None:
        self.assertEqual(failure(RuntimeError("boom")), {"code": "worker.error", "message": "boom", "retryable": True})
        self.assertEqual(failure(fatal("bad")), {"code": "worker.fatal", "message": "bad", "retryable": False})
        self.assertEqual(failure(StepError("x", "acme.lint_failed"))["code"], "acme.lint_failed")
        odd = RuntimeError("y")
        odd.code = "NOT A CODE"  # type: ignore[attr-defined]
        self.assertEqual(failure(odd)["code"], "worker.error")

    def test_backoff(self) -> None:
        policy = Retry(attempts=5, base_ms=100, max_ms=1_000)
        self.assertEqual(backoff(policy, 1, None, lambda: 0.999), 0.099)
        self.assertEqual(backoff(policy, 3, None, lambda: 0.999), 0.399)
        self.assertEqual(backoff(policy, 10, None, lambda: 0.999), 0.999)
        self.assertEqual(backoff(policy, 1, "0.5"), 0.5)
        self.assertEqual(backoff(policy, 1, "120"), 1.0)


class HttpRetries(unittest.TestCase):
    def test_retries_5xx_and_429_not_other_4xx(self) -> None:
        seen = {"n": 0}

        def flaky(_m: str, path: str, _b: Any) -> tuple[int, Any] | None:
            if path.endswith("/heartbeat"):
                seen["n"] += 1
                return (503, {"busy": True}) if seen["n"] == 1 else (429, {}) if seen["n"] == 2 else (200, {"ok": True})
            if path.endswith("/result"):
                return 409, {"code": "lease.lapsed"}
            return (502, None) if path.endswith("/release") else None

        pool = FakePool([], flaky)
        try:
            api = PoolApi(pool.url, "t", "external", Retry(attempts=4, base_ms=1, max_ms=5))
            self.assertEqual(api.call("POST", "/leases/l/heartbeat", json_body={}).status, 200)
            self.assertEqual(seen["n"], 3)
            self.assertEqual(api.call("POST", "/leases/l/result", json_body={}).status, 409)
            self.assertEqual(len([c for c in pool.calls if c[1].endswith("/result")]), 1)
            with self.assertRaises(UnreachableError):
                api.call("POST", "/leases/l/release", json_body={})
            self.assertEqual(len([c for c in pool.calls if c[1].endswith("/release")]), 4)
        finally:
            pool.close()

    def test_network_errors_are_retried_then_raised(self) -> None:
        api = PoolApi("http://127.0.0.1:9", "t", "external", Retry(attempts=2, base_ms=1, max_ms=2))
        with self.assertRaises(UnreachableError):
            api.call("POST", "/leases", json_body={})


class WorkerBehaviour(unittest.TestCase):
    def make(self, pool: FakePool, **options: Any) -> Worker:
        return Worker(pool.url, "fwk_t", "external", logger=quiet, retry=Retry(attempts=3, base_ms=1, max_ms=5),
                      **options)

    def test_runs_handlers_uploads_artifacts_reports_logs_and_failures(self) -> None:
        pool = FakePool([lease("a", {"kind": "report", "payload": {"title": "T"}}), lease("b", {"kind": "boom"}),
                         lease("c", {"kind": "unknown"})])
        worker = self.make(pool, labels={"gpu": "none"})

        @worker.handler("report")
        def report(inp: dict[str, Any], ctx: Any) -> dict[str, Any]:
            ctx.log("writing", title=inp["title"])
            ctx.artifact("report.md", "# T\n", "text/markdown")
            return {"title": inp["title"]}

        @worker.handler("boom")
        def boom(_inp: dict[str, Any], _ctx: Any) -> None:
            raise fatal("cannot")

        t, errors = start(worker)
        try:
            until(lambda: len(pool.ends()) == 3, "three results")
        finally:
            worker.stop()
            t.join(10)
            pool.close()
        self.assertEqual(errors, [])
        first = next(b for (_m, p, b) in pool.calls if p == "/leases")
        self.assertEqual(first["kinds"], ["boom", "report", "external.task"])
        self.assertEqual(first["labels"], {"gpu": "none"})
        results = {p.split("/")[2]: b for (p, b) in pool.ends()}
        self.assertEqual(results["lse_a"], {"outcome": "succeeded", "output": {"title": "T"},
                                            "artifacts": ["report.md"],
                                            "logs": [{"level": "info", "message": "writing",
                                                      "fields": {"title": "T"}}]})
        self.assertEqual(results["lse_b"], {"outcome": "failed", "error": {"code": "worker.fatal",
                                                                           "message": "cannot", "retryable": False}})
        self.assertEqual(results["lse_c"]["error"]["code"], "worker.no_handler")
        upload = next(b for (_m, p, b) in pool.calls if p.endswith("/artifacts/report.md"))
        self.assertEqual(upload, "# T\n")

    def test_concurrency_bound(self) -> None:
        pool = FakePool([lease(f"s{i}", {"kind": "work"}) for i in range(6)])
        worker = self.make(pool, concurrency=2)
        state = {"now": 0, "most": 0}
        lock = threading.Lock()

        @worker.handler("work")
        def work(_inp: dict[str, Any], _ctx: Any) -> dict[str, Any]:
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.03)
            with lock:
                state["now"] -= 1
            return {}

        t, _errors = start(worker)
        try:
            until(lambda: len(pool.ends()) == 6, "six results")
        finally:
            worker.stop()
            t.join(10)
            pool.close()
        self.assertEqual(state["most"], 2)

    def test_refused_heartbeat_cancels_and_drops_the_result(self) -> None:
        pool = FakePool([lease("a", {"kind": "long"})],
                        lambda _m, p, _b: (409, {"code": "lease.lapsed"}) if p.endswith("/heartbeat") else None)
        worker = self.make(pool, heartbeat_s=0.02)
        seen = threading.Event()

        @worker.handler("long")
        def long(_inp: dict[str, Any], ctx: Any) -> dict[str, Any]:
            if ctx.wait(30):
                seen.set()
            return {"late": True}

        t, _errors = start(worker)
        try:
            until(seen.is_set, "the cancellation")
        finally:
            worker.stop()
            t.join(10)
            pool.close()
        self.assertEqual(pool.ends(), [])

    def test_stop_finishes_within_grace_and_releases_the_rest(self) -> None:
        pool = FakePool([lease("quick", {"kind": "quick"}), lease("stuck", {"kind": "stuck"})])
        worker = self.make(pool, concurrency=2, shutdown_grace_s=2.0)
        may_end = threading.Event()
        stuck_cancelled = threading.Event()

        @worker.handler("quick")
        def quick(_inp: dict[str, Any], _ctx: Any) -> dict[str, Any]:
            may_end.wait(30)
            return {"quick": True}

        @worker.handler("stuck")
        def stuck(_inp: dict[str, Any], ctx: Any) -> dict[str, Any]:
            if ctx.wait(30):
                stuck_cancelled.set()
            return {}

        t, errors = start(worker)
        try:
            until(lambda: worker.in_flight == 2, "two steps in flight")
            worker.stop()
            may_end.set()
            t.join(15)
            self.assertFalse(t.is_alive())
        finally:
            pool.close()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(p for (p, _b) in pool.ends()), ["/leases/lse_quick/result",
                                                                "/leases/lse_stuck/release"])
        self.assertTrue(stuck_cancelled.is_set())

    def test_refused_token_ends_run_with_an_error(self) -> None:
        pool = FakePool([], lambda _m, p, _b: (401, {"code": "auth.unauthenticated"}) if p == "/leases" else None)
        worker = self.make(pool)
        try:
            with self.assertRaises(TokenRefused):
                worker.run(handle_signals=False)
        finally:
            pool.close()


if __name__ == "__main__":
    unittest.main()
