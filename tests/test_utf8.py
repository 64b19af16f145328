"""The UTF-8 validator agrees with Python's own decoder."""

from hypothesis import given
from hypothesis import strategies as st

from nexus_net.ws import Utf8Validator, validate_utf8


def python_says_valid(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def python_error_offset(data: bytes):
    """Offset of the first byte at which no valid continuation exists."""
    for end in range(1, len(data) + 1):
        try:
            data[:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return end - 1          # the byte just added made the prefix invalid
    return None


# Bytes biased towards the interesting lead and continuation ranges.
interesting = st.binary(max_size=64) | st.lists(
    st.sampled_from([0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                     0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]),
    max_size=24).map(bytes)


@given(interesting)
def test_same_verdict_as_python(data):
    assert validate_utf8(data) == python_says_valid(data)


@given(st.text(max_size=200))
def test_all_valid_text_passes(text):
    assert validate_utf8(text.encode("utf-8"))


@given(interesting, st.lists(st.integers(0, 64), max_size=6))
def test_incremental_equals_whole_and_fails_at_the_first_bad_byte(data, cuts):
    v = Utf8Validator()
    ok, last = True, 0
    for cut in sorted(c for c in cuts if c <= len(data)) + [len(data)]:
        ok = v.feed(data[last:cut]) and ok
        last = cut
    assert (ok and v.complete) == python_says_valid(data)
    if not ok:
        assert v.error_offset == python_error_offset(data)


def test_long_ascii_runs_and_positions():
    assert validate_utf8(b"a" * 1000)
    for pos in range(0, 40):
        data = b"a" * pos + b"\xff" + b"a" * 20
        v = Utf8Validator()
        assert not v.feed(data)
        assert v.error_offset == pos
