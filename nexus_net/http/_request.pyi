from typing import final

from nexus_net.http._message import HttpMessage, MessageReader

@final
class IncomingRequest(HttpMessage):
    method: str
    expects_continue: bool
    @property
    def target(self) -> str: ...

@final
class RequestReader(MessageReader):
    def __init__(self, buffer_size: int = ..., *, max_body_size: int = ..., max_headers: int = 100,
                 max_head_bytes: int = ..., strict: bool = True) -> None: ...
    def reset(self) -> None: ...
    def feed_eof(self) -> None: ...
    def next(self) -> IncomingRequest | None: ...
