"""Factory Runtime worker SDK for Python (standard library only, Python 3.11+).

    from factory_worker import Worker

    worker = Worker(url, token, pool="external", labels={"gpu": "none"}, concurrency=2)

    @worker.handler("lint")
    def lint(input, ctx):
        ctx.log("linting", files=len(input["files"]))
        return {"problems": 0}

    worker.run()  # until SIGTERM: in-flight steps finish or are given back
"""

from ._attempt import Context, StepError, failure, fatal, heartbeat_every, route
from ._http import Answer, PoolApi, Retry, UnreachableError, backoff
from .worker import Handler, TokenRefused, Worker

__all__ = [
    "Answer",
    "Context",
    "Handler",
    "PoolApi",
    "Retry",
    "StepError",
    "TokenRefused",
    "UnreachableError",
    "Worker",
    "backoff",
    "failure",
    "fatal",
    "heartbeat_every",
    "route",
]
__version__ = "0.1.0"
