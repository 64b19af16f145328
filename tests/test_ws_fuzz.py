"""Random bytes into the reader: only our exceptions, no hang, bounded memory."""

from hypothesis import given
from hypothesis import strategies as st

from nexus_net.errors import NexusNetError
from nexus_net.ws import FrameReader, Message, ProtocolError, Role
from wire import frame

LIMIT = 4096


def run(role, chunks):
    reader = FrameReader(role, max_message_size=LIMIT, buffer_size=1024)
    delivered = 0
    try:
        for chunk in chunks:
            reader.feed(chunk)
            for msg in reader:          # terminates: each step consumes bytes or stops
                assert isinstance(msg, Message)
                assert len(msg) <= LIMIT
                delivered += 1
    except ProtocolError as exc:
        assert exc.close_code in (1002, 1007, 1009)
    except NexusNetError:
        pass
    assert reader.pending <= LIMIT + 14 + 256 * 1024
    return delivered


@given(st.sampled_from([Role.CLIENT, Role.SERVER]), st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes(role, chunks):
    run(role, chunks)


# Structured garbage: plausible frames with random header bits, to get past byte 2.
frames = st.builds(
    lambda op, fin, rsv, masked, payload: frame(op, payload, fin=fin, rsv=rsv, masked=masked),
    st.integers(0, 15), st.booleans(), st.sampled_from([0, 0, 0, 1, 4]), st.booleans(),
    st.binary(max_size=200) | st.text(max_size=60).map(lambda t: t.encode()))


@given(st.sampled_from([Role.CLIENT, Role.SERVER]), st.lists(frames, max_size=12), st.integers(1, 64))
def test_random_frame_sequences(role, seq, step):
    data = b"".join(seq)
    run(role, [data[i:i + step] for i in range(0, len(data), step)])
