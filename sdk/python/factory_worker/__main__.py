"""A runnable example worker: ``python3 -m factory_worker`` (from sdk/python, or once installed).

It reads FACTORY_URL (default http://127.0.0.1:8787), FACTORY_WORKER_TOKEN (required),
FACTORY_POOL (default ``external``), WORKER_NAME, WORKER_CONCURRENCY and WORKER_GRACE_MS, and runs ``external.task``
steps whose ``kind`` is ``fibonacci``, ``sleep`` or ``report``. With FACTORY_JOB_PREFIX (e.g. ``demo.``) it also
runs the tenant job types ``demo.fibonacci``, ``demo.sleep`` and ``demo.report`` of a tenant's own pool.
SIGTERM stops it gracefully.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from . import Context, Worker, fatal


def build(name: str) -> Worker:
    token = os.environ.get("FACTORY_WORKER_TOKEN")
    if not token:
        sys.exit("FACTORY_WORKER_TOKEN is required (a worker token of the pool)")
    worker = Worker(
        os.environ.get("FACTORY_URL", "http://127.0.0.1:8787"),
        token,
        os.environ.get("FACTORY_POOL", "external"),
        worker_id=name,
        concurrency=int(os.environ.get("WORKER_CONCURRENCY", "2")),
        shutdown_grace_s=int(os.environ.get("WORKER_GRACE_MS", "3500")) / 1000,
    )

    @worker.handler("fibonacci")
    def fibonacci(inp: dict[str, Any], ctx: Context) -> dict[str, Any]:
        n = inp.get("n", 30)
        if not isinstance(n, int) or not 0 <= n <= 10_000:
            raise fatal("n must be an integer in 0..10000")
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return {"n": n, "value": str(a), "by": name}

    @worker.handler("sleep")
    def sleep(inp: dict[str, Any], ctx: Context) -> dict[str, Any]:
        ms = int(inp.get("ms", 1_000))
        ctx.log(f"sleeping {ms} ms", worker=name)
        if ctx.wait(ms / 1000):
            raise RuntimeError("the attempt was cancelled")
        return {"sleptMs": ms, "by": name}

    @worker.handler("report")
    def report(inp: dict[str, Any], ctx: Context) -> dict[str, Any]:
        title = str(inp.get("title", "Report"))
        ctx.artifact("report.md", f"# {title}\n\nWritten by {name}.\n", "text/markdown")
        return {"title": title, "by": name}

    # The same handlers as a tenant's own job types (docs/external-workers.md), e.g. demo.fibonacci.
    prefix = os.environ.get("FACTORY_JOB_PREFIX")
    if prefix:
        for kind, fn in list(worker.handlers.items()):
            worker.handler(prefix + kind)(fn)

    return worker


def main() -> None:
    build(os.environ.get("WORKER_NAME", f"py-worker-{os.getpid()}")).run()


if __name__ == "__main__":
    main()
