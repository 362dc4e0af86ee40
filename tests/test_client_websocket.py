"""The stdlib websocket client (RFC 6455) the `queue` command uses for ComfyUI's /ws progress stream."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
from fake_comfyui import FakeComfyUI


@pytest.fixture(scope="module")
def ws(pack):
    from comfyui_facelab.client import websocket

    return websocket


@pytest.fixture
def pair(ws):
    """(client WebSocket, raw server socket) over a socketpair."""
    a, b = socket.socketpair()
    client = ws.WebSocket(a)
    yield client, b
    client.close()
    b.close()


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame built by hand from RFC 6455 section 5.2 (independent of the code under test)."""
    n = len(payload)
    length = bytes([n]) if n < 126 else b"\x7e" + struct.pack("!H", n) if n < 65536 else b"\x7f" + struct.pack("!Q", n)
    return bytes([(0x80 if fin else 0) | opcode]) + length + payload


def read_client_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one masked client frame from the raw socket and unmask it by hand."""

    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            data += sock.recv(n - len(data))
        return data

    head = exact(2)
    assert head[1] & 0x80, "client frames must be masked"
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    mask = exact(4)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(exact(n)))


def test_accept_key_matches_the_rfc_example(ws):
    # RFC 6455 section 1.3: key "dGhlIHNhbXBsZSBub25jZQ==" -> "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_frames_round_trip_at_every_length_encoding(ws, size):
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    plain = ws.encode_frame(ws.OP_BINARY, payload)
    assert plain == server_frame(0x2, payload)
    masked = ws.encode_frame(ws.OP_TEXT, payload, mask=b"\x01\x02\x03\x04")
    assert masked[1] & 0x80
    if size:
        assert masked[-size:] != payload  # masked on the wire
    for frame, opcode in ((plain, ws.OP_BINARY), (masked, ws.OP_TEXT)):
        fin, op, data, used = ws.parse_frame(bytearray(frame + b"next"))
        assert (fin, op, data, used) == (True, opcode, payload, len(frame))
        for cut in {0, 1, 2, len(frame) // 2, len(frame) - 1} - {len(frame)}:  # a strict prefix is incomplete, no error
            assert ws.parse_frame(bytearray(frame[:cut])) is None


def test_recv_handles_ping_fragments_binary_and_close(ws, pair):
    client, server = pair
    text = '{"type": "executed", "data": {"node": "9"}}'
    server.sendall(
        server_frame(0x9, b"hello")  # ping: must be answered with the same payload
        + server_frame(0x1, text[:10].encode(), fin=False)
        + server_frame(0xA, b"")  # a control frame between fragments is allowed
        + server_frame(0x0, text[10:].encode())
        + server_frame(0x2, b"\x00\x00\x00\x01png")
        + server_frame(0x8, struct.pack("!H", 1001))
    )
    assert client.recv(timeout=2) == text
    assert read_client_frame(server) == (0xA, b"hello")
    assert client.recv(timeout=2) == b"\x00\x00\x00\x01png"
    with pytest.raises(ws.WebSocketClosed, match="1001"):
        client.recv(timeout=2)
    assert read_client_frame(server) == (0x8, struct.pack("!H", 1001))  # close answered
    assert client.closed


def test_timeout_mid_frame_keeps_the_stream_usable(ws, pair):
    client, server = pair
    frame = server_frame(0x1, b'{"type": "progress"}')
    server.sendall(frame[:5])
    assert client.recv(timeout=0.2) is None
    server.sendall(frame[5:])
    assert client.recv(timeout=2) == '{"type": "progress"}'


def test_client_frames_are_masked_text(ws, pair):
    client, server = pair
    client.send_text('{"type": "feature_flags", "data": {}}')
    assert read_client_frame(server) == (0x1, b'{"type": "feature_flags", "data": {}}')


def test_eof_and_protocol_errors(ws, pair):
    client, server = pair
    server.sendall(bytes([0x80 | 0x40 | 0x1, 0]))  # RSV1 set without a negotiated extension
    with pytest.raises(ws.WebSocketError, match="reserved bits"):
        client.recv(timeout=2)
    a, b = socket.socketpair()
    other = ws.WebSocket(a)
    b.sendall(server_frame(0x0, b"orphan"))
    with pytest.raises(ws.WebSocketError, match="unexpected websocket opcode"):
        other.recv(timeout=2)
    b.close()
    with pytest.raises(ws.WebSocketClosed, match="dropped"):
        other.recv(timeout=2)
    other.close()


def test_handshake_with_the_fake_server_and_refusals(ws):
    with FakeComfyUI() as fake:
        host_port = fake.url.split("//")[1]
        with ws.WebSocket.connect(f"ws://{host_port}/ws?clientId=abc", timeout=2) as conn:
            first = conn.recv(timeout=2)
        assert '"sid": "abc"' in first and '"type": "status"' in first
    with FakeComfyUI(ws="refuse") as fake:
        with pytest.raises(ws.WebSocketError, match="refused with HTTP 404"):
            ws.WebSocket.connect(fake.url.replace("http", "ws") + "/ws?clientId=abc", timeout=2)
    with pytest.raises(ValueError, match="not a websocket URL"):
        ws.WebSocket.connect("http://127.0.0.1:1/ws")


def test_handshake_rejects_a_wrong_accept_key(ws):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
        )
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(ws.WebSocketError, match="wrong Sec-WebSocket-Accept"):
            ws.WebSocket.connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/ws", timeout=2)
    finally:
        thread.join(timeout=2)
        listener.close()
