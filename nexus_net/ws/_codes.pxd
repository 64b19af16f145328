# Close codes (RFC 6455 7.4 and the IANA registry), for the reader and the writer.


cdef inline bint valid_close_code(long long code) noexcept:
    """A code that may appear in a close frame on the wire: 1000-1003 and
    1007-1014 are registered for frames (1004 is reserved; 1005, 1006 and 1015
    are for reporting only), 3000-3999 belong to libraries and frameworks,
    4000-4999 to applications."""
    return (1000 <= code <= 1003) or (1007 <= code <= 1014) or (3000 <= code <= 4999)
