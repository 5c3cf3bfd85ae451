"""Serial devices on a pty pair: the gateway opens ``port``, we write to the other end.

``SerialDevice.write`` can split its bytes into pieces (one byte at a time) and
insert line noise, to prove the gateway's framing survives a real line.
"""

from __future__ import annotations

import os
import pty
import termios
import tty

from devices import stoveguard
from devices.reading import Reading


class SerialDevice:
    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the pty stays up between gateway opens

    def write(self, data: str | bytes, chunk: int = 0) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if chunk <= 0:
            os.write(self.master, raw)
            return
        for i in range(0, len(raw), chunk):
            os.write(self.master, raw[i:i + chunk])

    def stove(self, reading: Reading, chunk: int = 0) -> None:
        self.write(stoveguard.encode(reading), chunk)

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)
