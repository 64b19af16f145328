from collections.abc import Sequence

from typing_extensions import Buffer

_Text = str | bytes
_Headers = Sequence[tuple[_Text, _Text]]

def write_request(dst: Buffer, method: _Text, target: _Text, headers: _Headers = ...,
                  body: Buffer | None = None) -> int: ...
def write_response(dst: Buffer, status_code: int, headers: _Headers = ..., body: Buffer | None = None,
                   reason: _Text | None = None) -> int: ...
def write_chunk(dst: Buffer, data: Buffer = ...) -> int: ...
