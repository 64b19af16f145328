import pytest

from nexus_net import BufferFullError, ReadBuf, WriteBuf


def test_readbuf_feed_consume_and_views():
    rb = ReadBuf(16, 64)
    rb.feed(b"hello world")
    assert len(rb) == 11
    assert bytes(rb.readable()) == b"hello world"
    rb.consume(6)
    assert bytes(rb.readable()) == b"world"
    with pytest.raises(ValueError):
        rb.consume(6)


def test_readbuf_writable_advance_zero_copy_path():
    rb = ReadBuf(32, 1024)
    view = rb.writable(8)
    assert len(view) >= 8 and not view.readonly
    view[:3] = b"abc"
    del view
    rb.advance(3)
    assert bytes(rb.readable()) == b"abc"
    with pytest.raises(ValueError):
        rb.advance(10_000)


def test_readbuf_compacts_instead_of_growing_when_head_is_consumed():
    rb = ReadBuf(16, 16)
    rb.feed(b"x" * 12)
    rb.consume(10)
    rb.feed(b"y" * 10)        # only fits after moving the 2 unread bytes to the front
    assert bytes(rb.readable()) == b"xx" + b"y" * 10
    assert rb.capacity == 16


def test_readbuf_grows_exponentially_up_to_cap_then_refuses():
    rb = ReadBuf(16, 100)
    rb.feed(b"a" * 40)
    assert rb.capacity == 64
    rb.feed(b"b" * 50)
    assert rb.capacity == 100        # clamped at the cap
    with pytest.raises(BufferFullError, match="max_capacity=100"):
        rb.feed(b"c" * 20)
    assert bytes(rb.readable()) == b"a" * 40 + b"b" * 50   # nothing lost by the refusal


def test_readbuf_never_moves_bytes_that_a_view_still_sees():
    rb = ReadBuf(16, 1 << 20)
    rb.feed(b"0123456789abcdef")
    seen = rb.readable()[:10]        # a view of bytes we then consume
    rb.consume(16)
    rb.feed(b"Z" * 16)               # would overwrite the front if it reused the slab
    rb.feed(b"Y" * 100)
    assert bytes(seen) == b"0123456789"
    assert bytes(rb.readable()) == b"Z" * 16 + b"Y" * 100


def test_writebuf_headroom_prepend_and_single_region():
    wb = WriteBuf(64, headroom=10)
    wb.write(b"payload")
    wb.prepend_bytes(b"HDR")
    assert wb.getvalue() == b"HDRpayload"
    assert bytes(wb.view()) == b"HDRpayload"
    with pytest.raises(BufferError):
        wb.prepend_bytes(b"x" * 8)   # only 7 bytes of headroom left
    wb.clear()
    assert len(wb) == 0 and wb.headroom_left == 10


def test_writebuf_refuses_to_change_while_viewed():
    wb = WriteBuf(16, headroom=4)
    wb.write(b"abc")
    view = wb.view()
    with pytest.raises(BufferError):
        wb.clear()
    with pytest.raises(BufferError):
        wb.write(b"x" * 100)         # growth would move memory under the view
    view.release()
    wb.clear()
    wb.write(b"x" * 100)
    assert len(wb) == 100


def test_writebuf_cap():
    wb = WriteBuf(16, headroom=4, max_capacity=32)
    with pytest.raises(BufferFullError):
        wb.write(b"x" * 40)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ReadBuf(0)
    with pytest.raises(ValueError):
        ReadBuf(64, 32)
    with pytest.raises(ValueError):
        WriteBuf(8, headroom=8)


def test_fresh_slabs_grow_while_the_application_keeps_what_it_reads():
    # Each time reading finds its slab still viewed, it moves on to a fresh
    # one; when that happens again and again (every message kept), the fresh
    # slabs double, so the frame in progress is copied rarely, not per message.
    buf = ReadBuf(4096, 1 << 24)
    kept, caps = [], []
    for _ in range(12):
        buf.feed(b"x" * 3000)
        kept.append(buf.readable())          # a view pins the slab
        buf.consume(3000)
        caps.append(buf.capacity)
    assert caps[:3] == [4096, 4096, 8192]
    assert max(caps) >= 32768
    assert all(bytes(v) == b"x" * 3000 for v in kept)
    # nothing viewed any more: the streak ends, the slab is reused in place
    kept.clear()
    before = buf.capacity
    buf.feed(b"y" * 3000)
    assert buf.capacity == before
    # a buffer whose one kept view made it move gets a slab of the initial size
    single = ReadBuf(4096, 1 << 24)
    single.feed(b"z" * 3000)
    view = single.readable()
    single.consume(3000)
    single.feed(b"z" * 3000)
    assert single.capacity == 4096 and bytes(view) == b"z" * 3000
