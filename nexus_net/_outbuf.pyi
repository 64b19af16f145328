from typing import Any, Callable

DEFAULT_FLUSH_AT: int

def turn_of_the_loop() -> None: ...

class Coalescer:
    """The write side of one connection: direct writes, or one buffer flushed once per loop step."""
    tls: Any
    coalesce: bool
    flush_at: int
    writes: int
    def __init__(self, loop: Any, write: Callable[[bytes], Any], flush_at: int = ...) -> None: ...
    @property
    def pending_size(self) -> int: ...
