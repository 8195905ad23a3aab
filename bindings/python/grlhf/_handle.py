"""The one owner of a C handle shared by every Python class that wraps one."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Optional


class _Handle:
    """An owned C handle freed exactly once: by close(), a ``with`` block or the collector."""

    _free: Callable[[Any], None]
    _kind = "handle"

    def _adopt(self, handle: Optional[int]) -> None:
        self._handle: Optional[int] = handle
        self._finalizer = weakref.finalize(self, type(self)._free, handle)

    @property
    def handle(self) -> int:
        if self._handle is None:
            raise ValueError(f"grlhf.{type(self).__name__} is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        self._handle = None
        self._finalizer()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
