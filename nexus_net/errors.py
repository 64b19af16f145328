"""Exceptions shared by every layer of nexus-net."""

from __future__ import annotations


class NexusNetError(Exception):
    """Base class of every exception nexus-net raises on purpose."""


class BufferFullError(NexusNetError):
    """A buffer would grow past its configured maximum capacity."""
