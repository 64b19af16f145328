# cython: boundscheck=False, wraparound=False, initializedcheck=False
# All indexing here is pointer arithmetic guarded by explicit size checks.
"""Inbound and outbound byte buffers.

``ReadBuf`` is the single landing place for inbound bytes: its free tail is
what ``socket.recv_into`` or ``BufferedProtocol.get_buffer`` fills, and parsers
read it in place. ``WriteBuf`` keeps headroom in front of its data so a header
whose size is known only after the payload was written can be prepended without
moving the payload.
"""

from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_FillInfo
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcpy, memmove

from nexus_net.errors import BufferFullError

DEF_READ_CAPACITY = 64 * 1024
DEF_READ_MAX = 64 * 1024 * 1024
cdef Py_ssize_t MAX_STREAK_SLAB = 1024 * 1024   # fresh slabs grow to this while messages are kept


cdef class Slab:
    """A block of memory shared by a ReadBuf and the messages that view it.

    Slabs are created by the library; user code meets them only as the
    object behind a message's ``memoryview``.
    """

    def __cinit__(self):
        self.ptr = NULL
        self.size = 0
        self.pins = 0

    def __dealloc__(self):
        if self.ptr != NULL:
            PyMem_Free(self.ptr)
            self.ptr = NULL

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.ptr, self.size, 0, flags)
        self.pins += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.pins -= 1

    def __len__(self):
        return self.size

    def __repr__(self):
        return f"<Slab size={self.size} pins={self.pins}>"


cdef Slab new_slab(Py_ssize_t size):
    cdef Slab s = Slab.__new__(Slab)
    if size < 1:
        size = 1
    s.ptr = <char*>PyMem_Malloc(size)
    if s.ptr == NULL:
        raise MemoryError(f"cannot allocate a {size}-byte buffer")
    s.size = size
    return s


cdef class ReadBuf:
    """Growable inbound buffer: unread bytes ``[start, end)``, free tail after.

    * ``writable(n)`` returns a writable ``memoryview`` of at least ``n`` free
      bytes (for ``recv_into``/``get_buffer``); ``advance(k)`` commits ``k`` of
      them. ``feed(data)`` does both with a copy.
    * Parsers read ``readable()`` and ``consume(k)``.
    * Space is made by moving the unread bytes to the front (one ``memmove``)
      when the consumed head is large, else by doubling, up to
      ``max_capacity``; past it ``BufferFullError`` is raised, so memory is
      always bounded.
    * While anything still views the slab (a message, an exported buffer),
      the bytes it views are never moved or overwritten: the buffer moves on
      to a fresh slab instead and the old one lives as long as its viewers.
    """

    def __init__(self, Py_ssize_t capacity=DEF_READ_CAPACITY, Py_ssize_t max_capacity=DEF_READ_MAX):
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if max_capacity < capacity:
            raise ValueError(f"max_capacity ({max_capacity}) is below capacity ({capacity})")
        self.initial_capacity = capacity
        self.max_capacity = max_capacity
        self.slab = new_slab(capacity)
        self.data = self.slab.ptr
        self.cap = capacity
        self.start = 0
        self.end = 0

    cdef bint release(self) except -1:
        """Let go of the slab while nothing unread is in it (an idle
        connection, or one after a burst of large messages): its memory is
        freed now, or, if messages still view it, when the last of them goes
        (they keep it alive, as when reading moves on to a fresh slab). The
        next ``reserve`` allocates ``initial_capacity`` again. Returns whether
        a slab was let go."""
        if self.end != self.start or self.cap == 0:
            return False
        self.slab = Slab.__new__(Slab)       # (the old one is freed with its last viewer)
        self.data = NULL
        self.cap = 0
        self.start = self.end = 0
        return True

    def release_memory(self):
        """Python access to ``release`` (tests)."""
        return self.release()

    cdef char* reserve(self, Py_ssize_t need) except NULL:
        """Make ``need`` bytes free at the tail; return a pointer to them."""
        cdef Py_ssize_t unread = self.end - self.start
        cdef Py_ssize_t want, newcap
        cdef Slab fresh
        if self.cap - self.end >= need:
            return self.data + self.end
        want = unread + need
        if want > self.max_capacity:
            raise BufferFullError(
                f"read buffer full: {unread} unread bytes + {need} more would exceed "
                f"max_capacity={self.max_capacity}; consume data or raise the limit")
        if self.slab.pins == 0:
            self.pinned_moves = 0
            # Nobody views the slab: reuse it in place.
            if self.start > 0:
                memmove(self.data, self.data + self.start, unread)
                self.start = 0
                self.end = unread
            if self.cap - self.end >= need:
                return self.data + self.end
            newcap = self.cap if self.cap >= self.initial_capacity else self.initial_capacity
            while newcap < want:
                newcap *= 2
            if newcap > self.max_capacity:
                newcap = self.max_capacity
            newptr = <char*>PyMem_Realloc(self.slab.ptr, newcap)
            if newptr == NULL:
                raise MemoryError(f"cannot grow read buffer to {newcap} bytes")
            self.slab.ptr = newptr
            self.slab.size = newcap
            self.data = newptr
            self.cap = newcap
            return self.data + self.end
        # Pinned: leave the old slab to its viewers, continue in a fresh one,
        # of the initial size or, past it, of what is needed (rounded to
        # pages): a slab the caller keeps stays no bigger than its bytes.
        # But when the application keeps message after message (each move
        # finds the slab pinned again), every move copies the frame in
        # progress once more: then the fresh slab doubles per move in a row,
        # up to MAX_STREAK_SLAB, so the copies become rare (one per slab of
        # many messages) while a message kept alone still pins a small slab.
        newcap = self.initial_capacity
        if self.pinned_moves > 0:
            newcap = newcap << (self.pinned_moves if self.pinned_moves < 8 else 8)
            if newcap > MAX_STREAK_SLAB:
                newcap = MAX_STREAK_SLAB if MAX_STREAK_SLAB > self.initial_capacity else self.initial_capacity
        self.pinned_moves += 1
        if newcap < want:
            newcap = (want + 4095) & ~(<Py_ssize_t>4095)
        if newcap > self.max_capacity:
            newcap = self.max_capacity
        fresh = new_slab(newcap)
        memcpy(fresh.ptr, self.data + self.start, unread)
        self.slab = fresh
        self.data = fresh.ptr
        self.cap = newcap
        self.start = 0
        self.end = unread
        return self.data + self.end

    # ---- Python API -------------------------------------------------------
    def writable(self, Py_ssize_t min_free=1):
        """A writable memoryview of the free tail (at least ``min_free`` bytes)."""
        self.reserve(min_free)
        return memoryview(self.slab)[self.end:self.cap]

    def advance(self, Py_ssize_t n):
        """Commit ``n`` bytes written into the last ``writable()`` view."""
        if n < 0 or n > self.cap - self.end:
            raise ValueError(f"advance({n}) outside the free tail of {self.cap - self.end} bytes")
        self.end += n

    def feed(self, data):
        """Copy ``data`` (any bytes-like object) in."""
        cdef const unsigned char[::1] src = data
        cdef Py_ssize_t n = src.shape[0]
        cdef char* dst
        if n:
            dst = self.reserve(n)
            memcpy(dst, &src[0], n)
            self.end += n

    def readable(self):
        """A read-only memoryview of the unread bytes (a snapshot copy-free view)."""
        return memoryview(self.slab)[self.start:self.end].toreadonly()

    def consume(self, Py_ssize_t n):
        """Mark ``n`` unread bytes as read."""
        if n < 0 or n > self.end - self.start:
            raise ValueError(f"consume({n}) but only {self.end - self.start} bytes are unread")
        self.drop(n)

    def __len__(self):
        return self.end - self.start

    @property
    def capacity(self):
        return self.cap

    @property
    def free(self):
        return self.cap - self.end

    def __repr__(self):
        return (f"<ReadBuf unread={self.end - self.start} free={self.cap - self.end} "
                f"capacity={self.cap} max={self.max_capacity}>")


cdef class WriteBuf:
    """Outbound buffer with headroom: data ``[start, end)``, room in front of it.

    Write a payload at the tail (``reserve``/``commit`` or ``write``), then
    ``prepend`` a header into the headroom; the result is one contiguous region
    (``view()``) for a single ``write``. ``clear()`` makes it reusable. It must
    not change while a view of it is alive: ``clear``/growth raise
    ``BufferError`` then.
    """

    def __cinit__(self):
        self.data = NULL

    def __init__(self, Py_ssize_t capacity=4096, Py_ssize_t headroom=16,
                 Py_ssize_t max_capacity=DEF_READ_MAX):
        if capacity < 1 or headroom < 0 or capacity <= headroom:
            raise ValueError("need capacity > headroom >= 0")
        if max_capacity < capacity:
            raise ValueError(f"max_capacity ({max_capacity}) is below capacity ({capacity})")
        self.data = <char*>PyMem_Malloc(capacity)
        if self.data == NULL:
            raise MemoryError()
        self.cap = capacity
        self.headroom = headroom
        self.start = headroom
        self.end = headroom
        self.max_capacity = max_capacity
        self.exports = 0

    def __dealloc__(self):
        if self.data != NULL:
            PyMem_Free(self.data)
            self.data = NULL

    cdef int check_not_exported(self) except -1:
        if self.exports:
            raise BufferError("WriteBuf is still viewed by a memoryview; release it before reusing the buffer")
        return 0

    cdef char* reserve(self, Py_ssize_t need) except NULL:
        cdef Py_ssize_t newcap
        cdef char* p
        if self.cap - self.end >= need:
            return self.data + self.end
        self.check_not_exported()
        newcap = self.cap
        while newcap - self.end < need:
            newcap *= 2
        if newcap > self.max_capacity:
            if self.end + need > self.max_capacity:
                raise BufferFullError(
                    f"write buffer full: {self.end - self.start} bytes + {need} more would "
                    f"exceed max_capacity={self.max_capacity}")
            newcap = self.max_capacity
        p = <char*>PyMem_Realloc(self.data, newcap)
        if p == NULL:
            raise MemoryError(f"cannot grow write buffer to {newcap} bytes")
        self.data = p
        self.cap = newcap
        return self.data + self.end

    cdef char* prepend(self, Py_ssize_t n) except NULL:
        if n > self.start:
            raise BufferError(f"prepend of {n} bytes exceeds the {self.start} bytes of headroom left")
        self.check_not_exported()
        self.start -= n
        return self.data + self.start

    def __getbuffer__(self, Py_buffer* view, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("WriteBuf exports read-only views; write through its methods")
        PyBuffer_FillInfo(view, self, self.data + self.start, self.end - self.start, 1, flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* view):
        self.exports -= 1

    # ---- Python API -------------------------------------------------------
    def clear(self):
        """Forget the content; the next write starts after the headroom again."""
        self.check_not_exported()
        self.start = self.headroom
        self.end = self.headroom

    def write(self, data):
        """Append a copy of ``data`` (bytes-like)."""
        cdef const unsigned char[::1] src = data
        cdef Py_ssize_t n = src.shape[0]
        cdef char* dst
        if n:
            dst = self.reserve(n)
            memcpy(dst, &src[0], n)
            self.end += n

    def prepend_bytes(self, data):
        """Put a copy of ``data`` in front of the content, inside the headroom."""
        cdef const unsigned char[::1] src = data
        cdef Py_ssize_t n = src.shape[0]
        cdef char* dst = self.prepend(n)
        if n:
            memcpy(dst, &src[0], n)

    def view(self):
        """A read-only memoryview of the content (blocks clear/growth while alive)."""
        return memoryview(self)

    def getvalue(self):
        """A ``bytes`` copy of the content."""
        return self.data[self.start:self.end]

    def __len__(self):
        return self.end - self.start

    @property
    def headroom_left(self):
        return self.start

    def __repr__(self):
        return f"<WriteBuf len={self.end - self.start} capacity={self.cap} headroom_left={self.start}>"


cdef class Span:
    """Internal: a re-pointable buffer-protocol window (see buf.pxd)."""

    def __getbuffer__(self, Py_buffer* view, int flags):
        if (flags & PyBUF_WRITABLE) and not self.writable:
            raise BufferError("this span is read-only")
        PyBuffer_FillInfo(view, self, self.ptr, self.length, 0 if self.writable else 1, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __len__(self):
        return self.length

    def __getitem__(self, key):
        # asyncio's TLS transport slices the buffer a buffered protocol gives
        # it (``buf[offset:]``): this is the path of TLS to a proxy, our own
        # TLS to the origin inside it. The view is taken now, so re-pointing
        # the span later does not move it.
        return memoryview(self)[key]

    def __setitem__(self, key, value):
        # For transports that copy into the buffer with ``buf[:n] = data``
        # (asyncio's helper for buffered protocols on the proactor loop).
        cdef const unsigned char[::1] src = value
        cdef Py_ssize_t start, stop, step
        if not self.writable:
            raise TypeError("this span is read-only")
        if not isinstance(key, slice):
            raise TypeError("span assignment takes a slice")
        start, stop, step = key.indices(self.length)
        if step != 1 or stop - start != src.shape[0]:
            raise ValueError("span slice assignment must be contiguous and of equal length")
        if src.shape[0]:
            memcpy(self.ptr + start, &src[0], src.shape[0])
