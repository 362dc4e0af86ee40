"""A minimal websocket client (RFC 6455) on the standard library, enough for ComfyUI's /ws event stream.

Why not a package: the stream is a handful of JSON text frames (plus binary preview frames we skip), so a
~150-line client avoids a dependency. Supported: the opening handshake with Sec-WebSocket-Accept check,
masked client frames, fragmented messages, ping -> pong, the close handshake, ws:// and wss://.
Not supported: extensions (permessage-deflate is never offered, so a server must not use it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
import time
from urllib.parse import urlsplit

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # fixed by RFC 6455 section 1.3
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_MESSAGE = 64 * 1024 * 1024  # a preview frame is a few hundred kB; refuse absurd lengths


class WebSocketError(OSError):
    """Handshake refused, protocol violation, or the connection closed."""


class WebSocketClosed(WebSocketError):
    """The server closed the connection (close frame or EOF)."""


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value a server must answer for `key`."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, mask: bytes | None = None, fin: bool = True) -> bytes:
    """One frame; `mask` (4 bytes) is mandatory for client-to-server frames, absent for server frames."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head.append(mask_bit | n)
    elif n < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", n)
    if mask is None:
        return bytes(head) + payload
    return bytes(head) + mask + _apply_mask(payload, mask)


def _apply_mask(data: bytes, mask: bytes) -> bytes:
    # XOR with the repeating 4-byte key, done on one big integer (fast enough for preview-sized frames).
    if not data:
        return b""
    key = (mask * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(len(data), "big")


def parse_frame(buf: bytearray) -> tuple[bool, int, bytes, int] | None:
    """(fin, opcode, unmasked payload, bytes consumed) of the first complete frame in `buf`, or None if incomplete."""
    if len(buf) < 2:
        return None
    fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
    if buf[0] & 0x70:
        raise WebSocketError("websocket frame uses reserved bits (an extension was not negotiated)")
    masked, n, pos = bool(buf[1] & 0x80), buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack_from("!H", buf, 2)[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
    if n > _MAX_MESSAGE:
        raise WebSocketError(f"websocket frame of {n} bytes is too large")
    mask = None
    if masked:
        if len(buf) < pos + 4:
            return None
        mask, pos = bytes(buf[pos : pos + 4]), pos + 4
    if len(buf) < pos + n:
        return None
    payload = bytes(buf[pos : pos + n])
    return fin, opcode, (_apply_mask(payload, mask) if mask else payload), pos + n


class WebSocket:
    """A connected client websocket. `recv(timeout)` returns the next text (str) or binary (bytes) message,
    None when `timeout` passes first (the stream stays usable), and raises WebSocketClosed at the end."""

    def __init__(self, sock: socket.socket, leftover: bytes = b""):
        self.sock = sock
        self._buf = bytearray(leftover)
        self._fragments: list[bytes] = []
        self._frag_opcode = 0
        self.closed = False

    @classmethod
    def connect(cls, url: str, timeout: float = 5.0, headers: dict | None = None) -> WebSocket:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise ValueError(f"not a websocket URL: {url!r}")
        host, secure = parts.hostname or "", parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if secure:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            lines = [
                f"GET {path} HTTP/1.1",
                f"Host: {parts.netloc}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
            ] + [f"{k}: {v}" for k, v in (headers or {}).items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            status, response_headers, leftover = _read_http_head(sock, deadline=time.monotonic() + timeout)
            if status != 101:
                raise WebSocketError(f"websocket handshake refused with HTTP {status}")
            if response_headers.get("sec-websocket-accept") != accept_key(key):
                raise WebSocketError("websocket handshake answered a wrong Sec-WebSocket-Accept")
            return cls(sock, leftover)
        except BaseException:
            sock.close()
            raise

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def _send(self, opcode: int, payload: bytes) -> None:
        self.sock.settimeout(10.0)  # recv may have left a tiny timeout on the socket
        self.sock.sendall(encode_frame(opcode, payload, mask=os.urandom(4)))

    def recv(self, timeout: float | None = None) -> str | bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = parse_frame(self._buf)
            if frame is None:
                if not self._fill(deadline):
                    return None
                continue
            fin, opcode, payload, used = frame
            del self._buf[:used]
            message = self._handle(fin, opcode, payload)
            if message is not None:
                return message

    def _handle(self, fin: bool, opcode: int, payload: bytes) -> str | bytes | None:
        if opcode == OP_PING:
            self._send(OP_PONG, payload)
            return None
        if opcode == OP_PONG:
            return None
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self._close_after_peer(payload[:2])
            raise WebSocketClosed(f"server closed the websocket (code {code})")
        if opcode in (OP_TEXT, OP_BINARY):
            if self._fragments:
                raise WebSocketError("new websocket message started inside a fragmented one")
            self._frag_opcode = opcode
        elif opcode != OP_CONT or not self._fragments:
            raise WebSocketError(f"unexpected websocket opcode {opcode:#x}")
        self._fragments.append(payload)
        if not fin:
            return None
        data, op = b"".join(self._fragments), self._frag_opcode
        self._fragments, self._frag_opcode = [], 0
        return data.decode("utf-8") if op == OP_TEXT else data

    def _fill(self, deadline: float | None) -> bool:
        """Read more bytes; False if the deadline passed (partial frames stay buffered for the next call)."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        if not chunk:
            self.closed = True
            raise WebSocketClosed("server dropped the websocket connection")
        self._buf += chunk
        return True

    def _close_after_peer(self, code: bytes) -> None:
        try:
            self._send(OP_CLOSE, code)
        except OSError:
            pass
        self._shutdown()

    def close(self, code: int = 1000) -> None:
        """Start the close handshake (best effort: ComfyUI answers and drops the socket)."""
        if not self.closed:
            try:
                self._send(OP_CLOSE, struct.pack("!H", code))
            except OSError:
                pass
        self._shutdown()

    def _shutdown(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_http_head(sock: socket.socket, deadline: float) -> tuple[int, dict, bytes]:
    """Status code, lower-cased headers and the bytes already read past the blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > 65536:
            raise WebSocketError("websocket handshake response headers too long")
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(4096)
        if not chunk:
            raise WebSocketError("connection closed during the websocket handshake")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise WebSocketError(f"malformed websocket handshake response: {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest
