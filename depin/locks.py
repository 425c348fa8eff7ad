"""A lock that one thread of one process holds at a time: a mutex in this process around a lock
that other processes honour (a file's ``flock``, a database's advisory lock)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

__all__ = ["HeldLock"]


class HeldLock(ABC):
    """The mutex first, then ``_take``; ``_drop`` and the mutex's release on the way out, and
    when ``_take`` fails part way."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()

    @abstractmethod
    def _take(self) -> None:
        """Takes the lock other processes honour (the mutex is held)."""

    @abstractmethod
    def _drop(self) -> None:
        """Lets go of what ``_take`` took, even if it took only part of it."""

    def __enter__(self) -> Self:
        self._mutex.acquire()
        try:
            self._take()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        try:
            self._drop()
        finally:
            self._mutex.release()
