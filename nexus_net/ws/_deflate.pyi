from typing import Any, final

@final
class PerMessageDeflate:
    local_no_context_takeover: bool
    remote_no_context_takeover: bool
    local_max_window_bits: int
    remote_max_window_bits: int
    level: int
    mem_level: int
    threshold: int
    inflated_messages: int
    deflated_messages: int
    def __init__(self, local_no_context_takeover: bool = False, remote_no_context_takeover: bool = False,
                 local_max_window_bits: int = 15, remote_max_window_bits: int = 15, *,
                 level: int = 6, mem_level: int = 5, threshold: int = 0) -> None: ...
    def close(self) -> None: ...
    @property
    def zlib_memory(self) -> int: ...
    @property
    def buffer_memory(self) -> int: ...
    def params(self) -> dict[str, Any]: ...
