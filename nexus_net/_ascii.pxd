# ASCII helpers shared by the HTTP parser and the request writer (inline C).


cdef inline bint is_tchar(unsigned char c) noexcept:
    """RFC 9110 token character (header names, methods)."""
    if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122):
        return True
    return c in b"!#$%&'*+-.^_`|~"


cdef inline bint ascii_ieq(const char* a, Py_ssize_t n, const char* b, Py_ssize_t m) noexcept:
    """Case-insensitive (ASCII) equality of a[:n] and b[:m]."""
    cdef Py_ssize_t i
    cdef char x, y
    if n != m:
        return False
    for i in range(n):
        x = a[i]
        y = b[i]
        if 65 <= x <= 90:
            x = x + 32
        if 65 <= y <= 90:
            y = y + 32
        if x != y:
            return False
    return True
