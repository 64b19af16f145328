# The inflater has a C API only (nexus_net/_inflate.pxd); from Python it is an opaque type.
from typing import final

@final
class Inflater:
    def __init__(self, error: type[Exception], too_large: type[Exception], what: str = "body") -> None: ...
