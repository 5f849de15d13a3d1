"""uvicorn's h11 protocol with a deadline for a request's line and headers.

uvicorn bounds idle keep-alive connections but not a client sending its headers a byte at a time:
any byte cancels the keep-alive timer, so 300 such connections stayed open for as long as their
clients liked. Here each connection must send a whole request head within ``header_timeout_s`` of
opening, and of each answer it received; otherwise it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineProtocol(H11Protocol):
    """:class:`H11Protocol` closing connections whose request head is late (uvicorn's ``http`` setting
    takes ``functools.partial(HeaderDeadlineProtocol, header_timeout_s=...)``)."""

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:  # a whole head arrived
            self.disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.arm()  # the next request's head must come in time too

    def arm(self) -> None:
        self.disarm()
        self.header_timer = self.loop.call_later(self.header_timeout_s, self.head_too_late)

    def disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def head_too_late(self) -> None:
        self.header_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
