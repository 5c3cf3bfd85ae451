"""Line framing for serial devices: bytes in any chunking -> whole lines out.

Pure: the serial adapter feeds whatever ``read()`` returned, one byte or a
thousand. A line ends at ``\\n`` (a ``\\r`` before it is dropped). A line longer
than ``max_line`` is line noise: it is discarded up to its end and counted, so
one garbled burst never glues two sentences together or grows memory.
Sentences start at ``$``: bytes before the first ``$`` of a line are noise and
are cut off (a receiver that powers up mid-sentence sees a tail first).
"""

from __future__ import annotations


class LineFramer:
    def __init__(self, max_line: int = 256) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False
        self.discarded = 0  # overlong or noise lines thrown away

    def feed(self, chunk: bytes) -> list[str]:
        lines: list[str] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not self._skipping:
                self._buf += piece
                if len(self._buf) > self.max_line:
                    self._buf.clear()
                    self._skipping = True
                    self.discarded += 1
            if end < 0:
                return lines
            if not self._skipping:
                line = self._line(bytes(self._buf))
                if line is not None:
                    lines.append(line)
            self._buf.clear()
            self._skipping = False
            start = end + 1

    def _line(self, raw: bytes) -> str | None:
        dollar = raw.rfind(b"$")
        if dollar < 0:
            if raw.strip():
                self.discarded += 1
            return None
        if dollar > 0:
            self.discarded += 1
        text = raw[dollar:].rstrip(b"\r").decode("ascii", errors="replace")
        return text


def checksum(body: str) -> str:
    """NMEA 0183 checksum: XOR of every byte between ``$`` and ``*``, two hex digits."""
    value = 0
    for ch in body.encode("ascii"):
        value ^= ch
    return f"{value:02X}"


def split_sentence(line: str) -> list[str]:
    """``$BODY*CS`` -> BODY's comma fields, or ValueError naming what is wrong."""
    if not line.startswith("$"):
        raise ValueError("no leading $")
    body, star, given = line[1:].partition("*")
    if not star:
        raise ValueError("no * before the end of the sentence")
    if given.strip().upper() != checksum(body):
        raise ValueError(f"bad checksum {given.strip()!r}, expected {checksum(body)}")
    return body.split(",")


def sentence(body: str) -> str:
    return f"${body}*{checksum(body)}\r\n"
