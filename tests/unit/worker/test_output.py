from __future__ import annotations

import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from titan_ha.models import OUTPUT_CAP_BYTES, OUTPUT_MARKER
from titan_ha.worker.output import CapturedOutput, StreamCapture


def capture(chunks: list[bytes], cap_bytes: int = OUTPUT_CAP_BYTES) -> CapturedOutput:
    stream = StreamCapture(cap_bytes)
    for chunk in chunks:
        stream.feed(chunk)
    return stream.finish()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_multibyte_character_split_across_feeds_comes_back_whole() -> None:
    euro = "€".encode()  # three bytes

    result = capture([b"x" + euro[:1], euro[1:2], euro[2:] + b"y"])

    assert result == CapturedOutput("x€y", total_bytes=5, truncated=False)


def test_invalid_bytes_become_replacement_characters() -> None:
    result = capture([b"A\xff\xfeB\n"])

    assert result == CapturedOutput("A\ufffd\ufffdB\n", total_bytes=5, truncated=False)


def test_incomplete_character_at_the_end_becomes_one_replacement() -> None:
    result = capture([b"ok", "€".encode()[:2]])

    assert result == CapturedOutput("ok\ufffd", total_bytes=4, truncated=False)


def test_empty_stream() -> None:
    assert capture([]) == CapturedOutput("", total_bytes=0, truncated=False)


@pytest.mark.parametrize("chunk_size", [1, 7, 200, 10_000])
def test_output_of_exactly_the_cap_is_kept_whole(chunk_size: int) -> None:
    data = b"a" * 100 + b"b" * 100

    result = capture(split(data, chunk_size), cap_bytes=200)

    assert result == CapturedOutput(data.decode(), total_bytes=200, truncated=False)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 300])
def test_head_and_tail_are_exact_for_a_small_cap(chunk_size: int) -> None:
    data = b"a" * 100 + b"b" * 100 + b"c" * 100

    result = capture(split(data, chunk_size), cap_bytes=200)

    # Head: the first 100 bytes. The tail gives up room for the marker
    # (41 bytes + 3 digits), keeping 56 bytes; 300 - 100 - 56 = 144 skipped.
    marker = OUTPUT_MARKER.format(skipped=144)
    assert len(marker.encode()) == 44
    assert result == CapturedOutput(
        "a" * 100 + marker + "c" * 56, total_bytes=300, truncated=True
    )


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 900])
def test_cuts_fall_on_character_boundaries(chunk_size: int) -> None:
    data = ("€" * 300).encode()  # 900 bytes

    result = capture(split(data, chunk_size), cap_bytes=200)

    # The head's 100 bytes of room hold 33 whole euros (99 bytes); the 57
    # bytes left after the 44-byte marker hold 19; 900 - 99 - 57 = 744 skipped.
    marker = OUTPUT_MARKER.format(skipped=744)
    assert result == CapturedOutput(
        "€" * 33 + marker + "€" * 19, total_bytes=900, truncated=True
    )
    assert len(result.text.encode()) <= 200


def test_skipped_count_is_in_bytes_of_decoded_text() -> None:
    # Each invalid byte stands for a three-byte U+FFFD in the kept text.
    result = capture([b"\xff" * 100], cap_bytes=200)

    marker = OUTPUT_MARKER.format(skipped=144)
    assert result == CapturedOutput(
        "\ufffd" * 33 + marker + "\ufffd" * 19, total_bytes=100, truncated=True
    )


def test_default_cap_keeps_a_mebibyte_of_a_long_stream() -> None:
    chunk = b"x" * 65536
    stream = StreamCapture()
    for _ in range(64):  # 4 MiB
        stream.feed(chunk)
    result = stream.finish()

    assert result.total_bytes == 4 * 1024 * 1024
    assert result.truncated
    assert len(result.text.encode()) == OUTPUT_CAP_BYTES
    # 512 KiB of head, a 48-byte marker (7 digits), 524,240 bytes of tail.
    marker = OUTPUT_MARKER.format(skipped=3_145_776)
    assert result.text == "x" * 524_288 + marker + "x" * 524_240


@pytest.mark.parametrize("chunk_size", [65536, 7])
def test_memory_stays_bounded_by_the_cap(chunk_size: int) -> None:
    chunk = b"y" * chunk_size
    feeds = (16 * 1024 * 1024) // chunk_size if chunk_size > 100 else 200_000
    stream = StreamCapture()
    tracemalloc.start()
    try:
        for _ in range(feeds):
            stream.feed(chunk)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stream.total_bytes == feeds * chunk_size
    assert peak_bytes < 3 * OUTPUT_CAP_BYTES


def test_finish_is_idempotent_and_ends_feeding() -> None:
    stream = StreamCapture(cap_bytes=128)
    stream.feed(b"done")

    assert stream.finish() is stream.finish()
    with pytest.raises(RuntimeError):
        stream.feed(b"more")


def test_too_small_a_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 128"):
        StreamCapture(cap_bytes=127)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab\n€é𝄞"), max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=1600), max_size=12),
    cap_bytes=st.integers(min_value=128, max_value=600),
)
def test_kept_text_is_a_prefix_marker_and_suffix_within_the_cap(
    text: str, cuts: list[int], cap_bytes: int
) -> None:
    data = text.encode()
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]

    result = capture(chunks, cap_bytes=cap_bytes)

    assert result.total_bytes == len(data)
    assert len(result.text.encode()) <= cap_bytes
    if len(data) <= cap_bytes:
        assert result == CapturedOutput(text, len(data), truncated=False)
        return
    assert result.truncated
    head, _, rest = result.text.partition("\n…[titan: ")
    skipped_text, _, tail = rest.partition(" bytes of output skipped]…\n")
    assert text.startswith(head)
    assert text.endswith(tail)
    assert len(head.encode()) > cap_bytes // 2 - 4
    assert int(skipped_text) == len(data) - len(head.encode()) - len(tail.encode())
