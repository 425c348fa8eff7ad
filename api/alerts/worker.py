"""The alert worker: evaluation then delivery, one tick every ``DEPIN_API_ALERTS_POLL_S``, in
the API process (:class:`AlertRunner`, started and stopped with the app) or alone
(:meth:`AlertWorker.run_once`, as the tests and the benchmark drive it)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

import anyio.to_thread
import httpx
from sqlalchemy.orm import Session

from api.alerts.deliver import Deliverer, Policy
from api.alerts.evaluate import Evaluator, StepResult
from api.alerts.urls import Resolver, resolve
from api.settings import ApiSettings
from api.shared import State

log = logging.getLogger("depin.api.alerts")


def policy_of(settings: ApiSettings) -> Policy:
    return Policy(
        timeout_s=settings.alerts_timeout_s,
        backoff_s=settings.alerts_backoff_s,
        backoff_max_s=settings.alerts_backoff_max_s,
        max_attempts=settings.alerts_max_attempts,
        disable_after=settings.alerts_disable_after,
        allow_private=settings.alerts_allow_private_urls,
    )


class AlertWorker:
    """One evaluator and one deliverer on the shared state and the inventory."""

    def __init__(
        self,
        state: State,
        inventory: Callable[[], Session],
        policy: Policy,
        *,
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.evaluator = Evaluator(state, inventory, clock=clock)
        self.deliverer = Deliverer(state, policy, clock=clock, client=client, resolver=resolver)
        self._started = False

    def evaluate(self) -> StepResult:
        if not self._started:
            self.evaluator.start_at_head()
            self._started = True
        return self.evaluator.run_until_caught_up()

    def run_once(self) -> tuple[StepResult, int]:
        """Evaluates what is new, then attempts the due deliveries."""
        return self.evaluate(), self.deliverer.run_once()

    def close(self) -> None:
        self.deliverer.close()


class AlertRunner:
    """Runs an :class:`AlertWorker` from the app's start-up until its shutdown."""

    def __init__(self, worker: AlertWorker, poll_s: float) -> None:
        self.worker = worker
        self.poll_s = poll_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await anyio.to_thread.run_sync(functools.partial(self.worker.run_once))
                failing = False
            except Exception as exc:  # the next tick tries again
                log.log(
                    logging.DEBUG if failing else logging.WARNING, "alert worker failed: %s", exc
                )
                failing = True
            await asyncio.sleep(self.poll_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.worker.close()
