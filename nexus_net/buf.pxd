# cdef API of the buffer module, for other Cython modules (no Python-call overhead).

cdef class Slab:
    # One malloc'd block. ``pins`` counts the things that look into it (messages
    # and exported buffers); a pinned slab is never written over or moved, so a
    # view of it can never silently change.
    cdef char* ptr
    cdef Py_ssize_t size
    cdef Py_ssize_t pins


cdef Slab new_slab(Py_ssize_t size)


cdef class ReadBuf:
    cdef Slab slab
    cdef char* data          # == slab.ptr, cached
    cdef Py_ssize_t start    # first unread byte
    cdef Py_ssize_t end      # one past the last written byte
    cdef Py_ssize_t cap      # == slab.size, cached
    cdef Py_ssize_t initial_capacity
    cdef Py_ssize_t max_capacity
    cdef Py_ssize_t pinned_moves    # moves to a fresh slab in a row (the application keeps messages)

    cdef char* reserve(self, Py_ssize_t need) except NULL
    cdef bint release(self) except -1
    cdef inline void drop(self, Py_ssize_t n) noexcept:
        self.start += n
        if self.start == self.end and self.slab.pins == 0:
            # Everything read and nobody looks at the slab: restart at the front
            # so the next read never has to move anything.
            self.start = 0
            self.end = 0


cdef class WriteBuf:
    cdef char* data
    cdef Py_ssize_t cap
    cdef Py_ssize_t headroom
    cdef Py_ssize_t start
    cdef Py_ssize_t end
    cdef Py_ssize_t max_capacity
    cdef Py_ssize_t exports

    cdef char* reserve(self, Py_ssize_t need) except NULL
    cdef char* prepend(self, Py_ssize_t n) except NULL
    cdef int check_not_exported(self) except -1


cdef class Span:
    # A reusable window over memory someone else owns, exposed through the
    # buffer protocol without allocating a memoryview per use. Consumers copy
    # the pointer when they acquire the buffer, so re-pointing the span later
    # never affects a buffer already handed out.
    cdef char* ptr
    cdef Py_ssize_t length
    cdef bint writable


cdef inline Span point(Span span, char* ptr, Py_ssize_t length, bint writable):
    span.ptr = ptr
    span.length = length
    span.writable = writable
    return span
