"""A stand-in ComfyUI for CI: stdlib http.server + a minimal websocket server on 127.0.0.1, replaying the HTTP and
websocket exchanges recorded from a real ComfyUI 0.33 (tests/data/comfyui_http_contract/, re-record with
tests/record_comfyui_contract.py).

Every answer is a recorded one with only its ids and output file names substituted. What the fake adds is
state (uploads, queued prompts, outputs), the recorded outcome chosen per uploaded image (`scenario` /
`scenarios`), and faults a real server shows under stress: a websocket that refuses or drops, a download cut
short, a run that never ends. Its websocket side is written independently of the client's (RFC 6455), and it
sends a ping, a binary preview frame and a fragmented message in every run, as the RFC allows.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import io
import json
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CONTRACT_DIR = Path(__file__).resolve().parent / "data" / "comfyui_http_contract"
RUNS = {
    "success": "run_success",
    "progress": "run_progress",
    "execution_error": "run_execution_error",
    "interrupted": "run_interrupted",
}
REJECTIONS = {"node_errors": "prompt_node_errors", "no_outputs": "prompt_no_outputs"}
FINAL = ("execution_success", "execution_error", "execution_interrupted")


def contract(name: str) -> dict:
    return json.loads((CONTRACT_DIR / f"{name}.json").read_text())


def _replace(obj: object, mapping: dict[str, str]) -> object:
    text = json.dumps(obj)
    for old, new in mapping.items():
        text = text.replace(old, new)
    return json.loads(text)


def inverted_png(data: bytes) -> bytes:
    """What the recorded workflow (LoadImage -> ImageInvert -> SaveImage) makes of an upload."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        out = io.BytesIO()
        ImageOps.invert(im.convert("RGB")).save(out, format="PNG")
    return out.getvalue()


def missing_checkpoint_errors(node_id: str, name: str) -> dict:
    """node_errors as ComfyUI 0.33 builds them for a combo value not in its list (execution.validate_inputs,
    "value_not_in_list"), here a checkpoint that is not installed. With such errors on some outputs and other
    outputs valid, ComfyUI answers POST /prompt with HTTP 200, queues the valid outputs and returns these."""
    return {
        node_id: {
            "errors": [
                {
                    "type": "value_not_in_list",
                    "message": "Value not in list",
                    "details": f"ckpt_name: '{name}' not in []",
                    "extra_info": {"input_name": "ckpt_name", "input_config": None, "received_value": name},
                }
            ],
            "dependent_outputs": ["9"],
            "class_type": "CheckpointLoaderSimple",
        }
    }


class FakeComfyUI:
    """Scenarios: the recorded runs "success", "progress", "execution_error", "interrupted"; the recorded HTTP 400
    answers "node_errors", "no_outputs"; "hang" (runs forever); "partial" (HTTP 200 with node_errors for a missing
    checkpoint, the rest runs). Faults: ws="refuse" (no websocket) or ws="drop" (closed mid-run), drop_download=N
    (the N-th /view is cut in half), history_delay (seconds between the final event and the history entry),
    stall={"POST /prompt", "GET /history", "GET /view", "POST /upload/image"} (those requests are never answered),
    tamper={route: fn} (fn(answer) -> the JSON sent instead, for malformed answers; routes "POST /prompt",
    "GET /history", "ws"), die_after=N (after N prompts the server closes every connection and refuses new ones),
    sample_time (seconds each run takes, for the dispatcher's bench). outputs_per_run: images the SaveImage node
    returns per run."""

    def __init__(
        self,
        scenario: str = "success",
        scenarios: dict[str, str] | None = None,
        ws: str = "ok",
        drop_download: int = 0,
        outputs_per_run: int = 1,
        history_delay: float = 0.0,
        stall: set[str] | None = None,
        tamper: dict | None = None,
        die_after: int = 0,
        sample_time: float = 0.0,
    ):
        self.scenario, self.scenarios, self.ws_mode = scenario, scenarios or {}, ws
        self.drop_download, self.outputs_per_run, self.history_delay = drop_download, outputs_per_run, history_delay
        self.stall, self.tamper, self.die_after, self.sample_time = stall or set(), tamper or {}, die_after, sample_time
        self.stopped = threading.Event()
        self.dead = False
        self.headers: list[dict] = []  # request headers, in order (basic auth)
        self.in_flight = self.max_in_flight = 0  # prompts queued and not yet ended
        self._run_lock = threading.Lock()  # like ComfyUI, one prompt executes at a time
        self.uploads: dict[str, bytes] = {}
        self.prompts: list[dict] = []  # POST /prompt bodies, in order
        self.files: dict[str, bytes] = {}  # output files served by /view
        self.history: dict[str, dict] = {}
        self.cancels: list[tuple[str, dict]] = []  # POST /queue and /interrupt bodies
        self.pongs: list[bytes] = []
        self.views = 0  # /view requests answered
        self.sockets: dict[str, _ServerSocket] = {}
        self._counter = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeComfyUI:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if not self.dead:
            self.httpd.shutdown()
        self.httpd.server_close()
        for sock in list(self.sockets.values()):
            sock.close()

    def die(self) -> None:
        """The process is gone: the port refuses connections and open websockets are cut."""
        self.dead = True
        self.httpd.shutdown()
        self.httpd.server_close()
        for sock in list(self.sockets.values()):
            sock.close()

    # -- /upload/image: ComfyUI's naming (identical content keeps the name, different content gets " (n)") --
    def upload(self, name: str, data: bytes, overwrite: bool) -> dict:
        with self._lock:
            stem, dot, ext = name.rpartition(".")
            candidate, i = name, 1
            while not overwrite and candidate in self.uploads and self.uploads[candidate] != data:
                candidate, i = f"{stem} ({i}){dot}{ext}", i + 1
            self.uploads[candidate] = data
        return _replace(contract("upload_image")["body"], {"contract_input.png": candidate})

    # -- /prompt ---------------------------------------------------------------------------------------------
    def queue(self, body: dict) -> tuple[int, dict]:
        graph = body["prompt"]
        self.prompts.append(body)
        image = next((n["inputs"].get("image") for n in graph.values() if n.get("class_type") == "LoadImage"), None)
        scenario = self.scenarios.get(image, self.scenario)
        if scenario in REJECTIONS:
            return 400, contract(REJECTIONS[scenario])["body"]
        record = contract(RUNS.get(scenario, "run_success"))
        prompt_id = body.get("prompt_id") or str(uuid.uuid4())  # ComfyUI 0.33 takes the client's UUID
        with self._lock:
            number, self._counter = self._counter, self._counter + self.outputs_per_run
        mapping = {record["prompt_id"]: prompt_id, record["client_id"]: body.get("client_id", "")}
        answer = _replace(record["prompt_response"]["body"], mapping)
        answer["number"] = number
        if scenario == "partial":
            answer["node_errors"] = missing_checkpoint_errors("4", "sd_xl_base_1.0_inpainting_0.1.safetensors")
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        threading.Thread(target=self._run, args=(record, mapping, graph, image, number, scenario), daemon=True).start()
        return 200, answer

    def _run(self, *args) -> None:
        with self._run_lock:
            try:
                self._execute(*args)
            finally:
                with self._lock:
                    self.in_flight -= 1

    def _execute(self, record: dict, mapping: dict, graph: dict, image: str | None, number: int, scenario: str):
        """Replay the recorded events to the client's websocket; store the history entry when ComfyUI does."""
        names = [f"facelab_contract_{number + j + 1:05d}_.png" for j in range(self.outputs_per_run)]
        recorded_refs = [
            ref for out in record["history"][record["prompt_id"]]["outputs"].values() for ref in out["images"]
        ]
        if recorded_refs:  # the recorded runs save one image; this run saves `outputs_per_run` of them
            mapping[recorded_refs[0]["filename"]] = names[0]
            for name in names:
                self.files[name] = inverted_png(self.uploads[image])
        events = _replace(record["ws_events"], mapping)
        entry = _replace(record["history"][record["prompt_id"]], mapping)
        entry["prompt"][2] = graph
        outputs = [out for out in entry["outputs"].values()]
        outputs += [e["data"]["output"] for e in events if e["type"] == "executed"]
        for out in outputs:
            out["images"] = [{**out["images"][0], "filename": name} for name in names]
        client_id = mapping[record["client_id"]]
        if self.sample_time:
            time.sleep(self.sample_time)
        if self.dead:
            return
        sock = self.sockets.get(client_id)
        if sock is not None:
            sock.ping(b"facelab")
        for event in events[1:]:  # the first one, "status" with the sid, was sent on connect
            if scenario == "hang" and event["type"] == "executed":
                return  # the run never ends: no output, no final event, no history
            if self.ws_mode == "drop" and event["type"] == "executing" and event["data"].get("node") == "9":
                self.sockets.pop(client_id).close()
            sock = self.sockets.get(client_id)
            if sock is not None:
                if event["type"] == "progress":
                    sock.send_binary(b"\x00\x00\x00\x01" + b"fake preview")  # BinaryEventTypes.PREVIEW_IMAGE
                if "ws" in self.tamper:
                    event = self.tamper["ws"](event)
                sock.send_json(event, fragmented=isinstance(event, dict) and event.get("type") == "executed")
            if event["type"] in FINAL:
                time.sleep(self.history_delay)
                self.history[mapping[record["prompt_id"]]] = entry
        if self.die_after and len(self.prompts) >= self.die_after:
            self.die()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeComfyUI
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "application/json", headers: dict | None = None
    ):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: object, status: int = 200, route: str = "") -> None:
        if route in self.fake.tamper:
            obj = self.fake.tamper[route](obj)
        self._send(status, obj if isinstance(obj, bytes) else json.dumps(obj).encode())

    def _stalled(self, route: str) -> bool:
        """Never answer this route (until the fake stops): a server stuck mid-request."""
        self.fake.headers.append(dict(self.headers))
        if route in self.fake.stall:
            self.fake.stopped.wait()
            self.close_connection = True
            return True
        return False

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if self._stalled("GET " + ("/history" if url.path.startswith("/history/") else url.path)):
            return
        if url.path == "/prompt":
            self._json(contract("queue_info")["body"])
        elif url.path == "/ws":
            self._websocket(query.get("clientId", ""))
        elif url.path.startswith("/history/"):
            prompt_id = url.path.rsplit("/", 1)[1]
            entry = self.fake.history.get(prompt_id)
            self._json({prompt_id: entry} if entry else contract("history_pending")["body"], route="GET /history")
        elif url.path == "/view":
            self._view(query)
        else:
            self._send(404, b"404: Not Found", "text/plain")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if self._stalled("POST " + url.path):
            return
        if url.path == "/upload/image":
            fields = _multipart(self.headers["Content-Type"], self._body())
            name, data = fields["image"]
            self._json(self.fake.upload(name, data, fields.get("overwrite", ("", b""))[1] in (b"true", b"1")))
        elif url.path == "/prompt":
            status, body = self.fake.queue(json.loads(self._body()))
            self._json(body, status, route="POST /prompt")
        elif url.path in ("/queue", "/interrupt"):
            self.fake.cancels.append((url.path, json.loads(self._body() or b"{}")))
            self._send(200, b"", "text/plain")
        else:
            self._send(404, b"404: Not Found", "text/plain")

    def _view(self, query: dict) -> None:
        data = self.fake.files.get(query.get("filename", ""))
        if data is None or query.get("type") != "output":
            view = contract("view_missing")
            self._send(view["status"], view["body"].encode(), "text/plain")
            return
        headers = dict(contract("run_success")["view"][0]["headers"])
        headers.pop("Content-Length")
        headers.pop("Content-Type")
        headers["Content-Disposition"] = f'filename="{query["filename"]}"'
        self.fake.views += 1
        if self.fake.views == self.fake.drop_download:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._send(200, data, "image/png", headers)

    def _websocket(self, client_id: str) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        if self.fake.ws_mode == "refuse" or self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self._send(404, b"404: Not Found", "text/plain")
            return
        # Registered before the 101: the client queues its prompt as soon as the handshake is done.
        sock = self.fake.sockets[client_id] = _ServerSocket(self.connection, self.rfile, self.fake.pongs)
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        with sock.lock:
            self.end_headers()  # under the lock, so no event frame can precede the 101
            first = contract("run_success")["ws_events"][0]  # {"type": "status", ... "sid"}: sent on connect
            first["data"]["sid"] = client_id
            self.wfile.write(sock.frame(0x1, json.dumps(first).encode()))
            self.wfile.flush()
        self.close_connection = True
        sock.serve()  # until the client closes


class _ServerSocket:
    """Server end of a websocket: unmasked frames out, masked frames in (RFC 6455 section 5)."""

    def __init__(self, conn: socket.socket, rfile, pongs: list):
        self.conn, self.rfile, self.pongs = conn, rfile, pongs
        self.lock = threading.Lock()

    def frame(self, opcode: int, payload: bytes, fin: bool = True) -> bytes:
        n = len(payload)
        length = (
            bytes([n]) if n < 126 else b"\x7e" + struct.pack("!H", n) if n < 65536 else b"\x7f" + struct.pack("!Q", n)
        )
        return bytes([(0x80 if fin else 0) | opcode]) + length + payload

    def _write(self, data: bytes) -> None:
        with self.lock:
            try:
                self.conn.sendall(data)
            except OSError:
                pass

    def send_json(self, event: dict, fragmented: bool = False) -> None:
        data = json.dumps(event).encode()
        if fragmented:
            half = len(data) // 2
            self._write(self.frame(0x1, data[:half], fin=False) + self.frame(0x0, data[half:]))
        else:
            self._write(self.frame(0x1, data))

    def send_binary(self, data: bytes) -> None:
        self._write(self.frame(0x2, data))

    def ping(self, payload: bytes) -> None:
        self._write(self.frame(0x9, payload))

    def serve(self) -> None:
        try:
            while True:
                head = self.rfile.read(2)
                if len(head) < 2:
                    return
                opcode, n = head[0] & 0x0F, head[1] & 0x7F
                if not head[1] & 0x80:
                    raise ValueError("client frames must be masked")
                if n == 126:
                    n = struct.unpack("!H", self.rfile.read(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
                if opcode == 0xA:
                    self.pongs.append(payload)
                elif opcode == 0x8:
                    self._write(self.frame(0x8, payload[:2]))
                    return
        except (OSError, ValueError):
            return
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.get_payload():
        fields[part.get_param("name", header="content-disposition")] = (
            part.get_filename(),
            part.get_payload(decode=True),
        )
    return fields


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SilentServer:
    """Accepts TCP connections and never answers: a hung server."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


__all__ = ["FakeComfyUI", "SilentServer", "closed_port", "contract", "inverted_png"]
