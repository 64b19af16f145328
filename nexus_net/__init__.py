"""nexus-net: low-latency WebSocket and HTTP/1.1 primitives for Python.

Sans-IO Cython codecs (``nexus_net.ws``) with buffers designed for zero-copy
reads (``nexus_net.buf``).
"""

from nexus_net._run import new_event_loop, run
from nexus_net._version import __version__
from nexus_net.buf import ReadBuf, WriteBuf
from nexus_net.errors import BufferFullError, NexusNetError

__all__ = ["new_event_loop", "run", "BufferFullError", "NexusNetError", "ReadBuf", "WriteBuf", "__version__"]
