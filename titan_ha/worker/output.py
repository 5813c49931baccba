"""Capped capture of one output stream of an attempt.

A command may write gigabytes; the replicated state keeps at most
`OUTPUT_CAP_BYTES` of text per stream (CONTRACT.md). `StreamCapture` takes the
raw chunks read from a pipe, decodes them as UTF-8 (invalid bytes become
U+FFFD, a character split across reads comes back whole) and keeps only the
head and a rolling tail of the text, so its memory stays bounded by the cap
whatever the command writes. `OutputPipes` drains a child's stdout and stderr
into two captures without ever blocking, so its caller can watch the clock
and the child between reads.
"""

from __future__ import annotations

import codecs
import os
import selectors
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import IO

from titan_ha.models import OUTPUT_CAP_BYTES, OUTPUT_MARKER

# A cap must leave room for a head, a tail and the marker between them.
_MIN_CAP_BYTES = 128
_TAIL_CHUNK_BYTES = 64 * 1024
_READ_BYTES = 64 * 1024
_TICK_S = 0.02


@dataclass(frozen=True)
class CapturedOutput:
    """What is kept of one stream once the attempt is over.

    Attributes:
        text: The head and tail of the decoded output, with `OUTPUT_MARKER`
            between them when something was skipped. Its UTF-8 encoding is at
            most the capture's cap.
        total_bytes: Every raw byte the command wrote to the stream.
        truncated: True when part of the output was skipped.
    """

    text: str
    total_bytes: int
    truncated: bool


EMPTY_OUTPUT = CapturedOutput(text="", total_bytes=0, truncated=False)


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


class StreamCapture:
    """Decodes a byte stream incrementally and keeps its head and tail.

    The first half of the cap holds the head; the rest holds a rolling tail
    of the most recent text. When the stream was longer than the cap, the
    tail is shortened at `finish` to make room for the marker, so the whole
    text still fits the cap. Cuts always fall on character boundaries.

    The cap and the skipped count are measured in bytes of the decoded text's
    UTF-8 encoding. For valid UTF-8 input these are the bytes the command
    wrote; each invalid byte counts as the three bytes of its U+FFFD.

    Not thread-safe: one reader feeds one capture.

    Args:
        cap_bytes: Most bytes of text to keep; tests use small caps.

    Raises:
        ValueError: If `cap_bytes` is too small to hold a head, a tail and
            the marker.
    """

    def __init__(self, cap_bytes: int = OUTPUT_CAP_BYTES) -> None:
        if cap_bytes < _MIN_CAP_BYTES:
            raise ValueError(f"cap_bytes must be at least {_MIN_CAP_BYTES}")
        self._cap_bytes = cap_bytes
        self._head_cap_bytes = cap_bytes // 2
        self._tail_cap_bytes = cap_bytes - self._head_cap_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head = bytearray()
        self._head_closed = False
        # Small reads are coalesced so a stream of tiny writes costs a few
        # large chunks, not one object per read.
        self._tail: deque[bytearray] = deque()
        self._tail_bytes = 0
        self._skipped_bytes = 0
        self._total_bytes = 0
        self._result: CapturedOutput | None = None

    @property
    def total_bytes(self) -> int:
        """Raw bytes fed so far."""
        return self._total_bytes

    def feed(self, data: bytes) -> None:
        """Takes the next chunk read from the stream.

        Raises:
            RuntimeError: If called after `finish`.
        """
        if self._result is not None:
            raise RuntimeError("feed after finish")
        self._total_bytes += len(data)
        self._keep(self._decoder.decode(data).encode("utf-8"))

    def finish(self) -> CapturedOutput:
        """Flushes the decoder and returns what was kept; idempotent."""
        if self._result is None:
            # An incomplete character at the very end becomes U+FFFD.
            self._keep(self._decoder.decode(b"", final=True).encode("utf-8"))
            self._result = self._build()
        return self._result

    def _keep(self, encoded: bytes) -> None:
        if not encoded:
            return
        if not self._head_closed:
            room = self._head_cap_bytes - len(self._head)
            if len(encoded) <= room:
                self._head += encoded
                return
            cut = room
            while cut > 0 and _is_continuation(encoded[cut]):
                cut -= 1
            self._head += encoded[:cut]
            # Once a character did not fit, later text must not follow it
            # into the head, or the output would come back out of order.
            self._head_closed = True
            encoded = encoded[cut:]
        if self._tail and len(self._tail[-1]) < _TAIL_CHUNK_BYTES:
            self._tail[-1] += encoded
        else:
            self._tail.append(bytearray(encoded))
        self._tail_bytes += len(encoded)
        self._drop_tail(self._tail_bytes - self._tail_cap_bytes)

    def _drop_tail(self, excess_bytes: int) -> None:
        """Drops at least `excess_bytes` from the tail's front, whole chars.

        Every chunk holds the encoding of whole characters, so only a cut inside
        a chunk needs moving forward to the next character boundary.
        """
        while excess_bytes > 0 and self._tail:
            first = self._tail[0]
            if len(first) <= excess_bytes:
                self._tail.popleft()
                dropped = len(first)
            else:
                dropped = excess_bytes
                while dropped < len(first) and _is_continuation(first[dropped]):
                    dropped += 1
                del first[:dropped]
            self._tail_bytes -= dropped
            self._skipped_bytes += dropped
            excess_bytes -= dropped

    def _build(self) -> CapturedOutput:
        head = self._head.decode("utf-8")
        if self._skipped_bytes == 0:
            text = head + b"".join(self._tail).decode("utf-8")
            return CapturedOutput(text, self._total_bytes, truncated=False)
        # Shortening the tail for the marker skips more bytes, which may add
        # a digit to the marker; a few rounds settle it.
        while True:
            marker = OUTPUT_MARKER.format(skipped=self._skipped_bytes)
            used = len(self._head) + len(marker.encode("utf-8")) + self._tail_bytes
            if used <= self._cap_bytes or not self._tail:
                break
            self._drop_tail(used - self._cap_bytes)
        text = head + marker + b"".join(self._tail).decode("utf-8")
        return CapturedOutput(text, self._total_bytes, truncated=True)


class OutputPipes:
    """Reads a child's stdout and stderr into captures, never blocking.

    Args:
        proc: A child started with both streams piped.
        cap_bytes: Most bytes of text kept per stream.

    Raises:
        ValueError: If a stream of `proc` is not a pipe.
    """

    def __init__(
        self, proc: subprocess.Popen[bytes], cap_bytes: int = OUTPUT_CAP_BYTES
    ) -> None:
        if proc.stdout is None or proc.stderr is None:
            raise ValueError("stdout and stderr must be pipes")
        self._captures = (StreamCapture(cap_bytes), StreamCapture(cap_bytes))
        self._open: dict[int, tuple[IO[bytes], StreamCapture]] = {}
        self._selector = selectors.DefaultSelector()
        for pipe, capture in zip(
            (proc.stdout, proc.stderr), self._captures, strict=True
        ):
            os.set_blocking(pipe.fileno(), False)
            self._selector.register(pipe.fileno(), selectors.EVENT_READ)
            self._open[pipe.fileno()] = (pipe, capture)

    @property
    def open(self) -> bool:
        """True while a pipe is still open."""
        return bool(self._open)

    def pump(self, wait_s: float) -> None:
        """Reads what is available, waiting up to `wait_s` for something."""
        if not self._open:
            time.sleep(wait_s)
            return
        for key, _ in self._selector.select(wait_s):
            try:
                data = os.read(key.fd, _READ_BYTES)
            except BlockingIOError:
                continue
            if data:
                self._open[key.fd][1].feed(data)
            else:
                self._close_pipe(key.fd)

    def drain(self, drain_s: float) -> bool:
        """Reads until both pipes close or `drain_s` passes; True if closed."""
        deadline = time.monotonic() + drain_s
        while self._open and (left_s := deadline - time.monotonic()) > 0:
            self.pump(min(_TICK_S, left_s))
        return not self._open

    def close(self) -> tuple[CapturedOutput, CapturedOutput]:
        """Stops reading and returns what was kept of stdout and stderr.

        A writer still holding a pipe gets EPIPE from then on. Idempotent.
        """
        for fd in list(self._open):
            self._close_pipe(fd)
        return self._captures[0].finish(), self._captures[1].finish()

    def _close_pipe(self, fd: int) -> None:
        pipe, _ = self._open.pop(fd)
        self._selector.unregister(fd)
        pipe.close()
        if not self._open:
            self._selector.close()
