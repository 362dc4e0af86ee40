"""HTTP side of ComfyUI's server API (as served by ComfyUI 0.33, see tests/data/comfyui_http_contract/):

POST /upload/image   multipart image/type/overwrite -> {"name", "subfolder", "type"}
POST /prompt         {"prompt", "client_id"} -> {"prompt_id", "number", "node_errors"}; HTTP 400 {"error", "node_errors"}
GET  /history/<id>   {} while queued/running, then {id: {"prompt", "outputs", "status", "meta"}}
GET  /view           ?filename=&subfolder=&type= -> the file's bytes
POST /queue, POST /interrupt   cancel a queued / running prompt
GET  /ws?clientId=   the JSON event stream (websocket.py)

Standard library only. Every connection has a connect timeout (an unreachable server fails fast with a hint)
and a read timeout (a server that stops answering cannot hang the client).
"""

from __future__ import annotations

import http.client
import json
import logging
import mimetypes
import socket
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from .websocket import WebSocket

log = logging.getLogger("FaceLab")

DEFAULT_SERVER = "http://127.0.0.1:8188"
START_HINT = "start ComfyUI (e.g. `python main.py --listen 127.0.0.1 --port 8188` in its folder) or pass --server URL"


class ComfyError(Exception):
    """Base of the client's errors; str() is a complete message for the user."""


class ServerUnreachable(ComfyError):
    def __init__(self, url: str, reason: object):
        super().__init__(f"cannot reach ComfyUI at {url} ({reason}); {START_HINT}")
        self.url = url


class ServerError(ComfyError):
    """Unexpected HTTP status, malformed answer, or the server stopped answering mid-request."""


class PromptRejected(ComfyError):
    """HTTP 400 from POST /prompt: the workflow failed validation. Carries ComfyUI's body unchanged."""

    def __init__(self, body: dict):
        error = body.get("error") or {}
        message = error.get("message", "prompt rejected") if isinstance(error, dict) else str(error)
        super().__init__(f"ComfyUI rejected the workflow: {message}")
        self.error = error if isinstance(error, dict) else {"message": str(error)}
        self.node_errors = body.get("node_errors") or {}


class ComfyClient:
    """One ComfyUI server. Each request opens its own connection (ComfyUI's aiohttp serves them cheaply)."""

    def __init__(self, server: str = DEFAULT_SERVER, connect_timeout: float = 5.0, read_timeout: float = 60.0):
        parts = urlsplit(server if "://" in server else f"http://{server}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--server must look like http://127.0.0.1:8188, got {server!r}")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")  # ComfyUI behind a reverse proxy under a sub-path
        self.base_url = f"{parts.scheme}://{parts.netloc}{self.prefix}"
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout

    # -- transport -------------------------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
              read_timeout: float | None = None):
        """Send a request; return (connection, response). The caller reads the body and closes the connection."""
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except (OSError, socket.timeout) as exc:
            conn.close()
            raise ServerUnreachable(self.base_url, exc) from None
        conn.sock.settimeout(read_timeout or self.read_timeout)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ServerError(f"ComfyUI at {self.base_url} stopped answering {method} {path}: {_reason(exc)}") from None

    def _call(self, method: str, path: str, payload: object = None, body: bytes | None = None,
              content_type: str = "application/json", read_timeout: float | None = None) -> tuple[int, bytes]:
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": content_type} if body is not None else {}
        conn, resp = self._open(method, path, body, headers, read_timeout)
        try:
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(f"ComfyUI at {self.base_url} dropped {method} {path}: {_reason(exc)}") from None
        finally:
            conn.close()

    def _json(self, method: str, path: str, **kwargs) -> object:
        status, data = self._call(method, path, **kwargs)
        if status != 200:
            raise ServerError(f"{method} {path} on {self.base_url} answered HTTP {status}: {_snippet(data)}")
        return _decode_json(data, f"{method} {path}")

    # -- API -------------------------------------------------------------------------------------------------
    def queue_info(self) -> dict:
        """GET /prompt ({"exec_info": {"queue_remaining": n}}): a cheap probe that the server is a ComfyUI. It must
        answer within the connect timeout, so a server that accepts connections but hangs is caught at once."""
        info = self._json("GET", "/prompt", read_timeout=self.connect_timeout)
        if not isinstance(info, dict) or "exec_info" not in info:
            raise ServerError(f"{self.base_url} answered GET /prompt but does not look like ComfyUI: {_snippet(info)}")
        return info

    def upload_image(self, path: Path, overwrite: bool = False) -> dict:
        """Upload to ComfyUI's input folder. Without overwrite ComfyUI keeps an identical file and renames a
        different one with the same name ("photo (1).png"), so the returned "name" is the one to use."""
        boundary = uuid.uuid4().hex
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts = [
            _form_field(boundary, "image", path.read_bytes(), filename=path.name, content_type=mime),
            _form_field(boundary, "type", b"input"),
            _form_field(boundary, "overwrite", b"true" if overwrite else b"false"),
        ]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        ref = self._json("POST", "/upload/image", body=body, content_type=f"multipart/form-data; boundary={boundary}")
        if not isinstance(ref, dict) or not ref.get("name"):
            raise ServerError(f"POST /upload/image answered without a file name: {_snippet(ref)}")
        return ref

    def queue_prompt(self, graph: dict, client_id: str) -> str:
        """Queue an API-format graph; return its prompt_id. Raises PromptRejected on validation errors."""
        status, data = self._call("POST", "/prompt", payload={"prompt": graph, "client_id": client_id})
        body = _decode_json(data, "POST /prompt") if data else {}
        if status == 400 and isinstance(body, dict):
            raise PromptRejected(body)
        if status != 200 or not isinstance(body, dict) or not body.get("prompt_id"):
            raise ServerError(f"POST /prompt answered HTTP {status}: {_snippet(data)}")
        return str(body["prompt_id"])

    def history(self, prompt_id: str) -> dict | None:
        """The finished prompt's history entry, or None while it is still queued or running."""
        out = self._json("GET", f"/history/{quote(prompt_id)}")
        return out.get(prompt_id) if isinstance(out, dict) else None

    def download(self, ref: dict, dest: Path) -> int:
        """Stream an output file ({"filename", "subfolder", "type"}) into `dest`; return its size.
        A body shorter than Content-Length (server dropped the connection) raises ServerError; the caller
        owns `dest` and deletes it on error."""
        query = urlencode({"filename": ref["filename"], "subfolder": ref.get("subfolder", ""),
                           "type": ref.get("type", "output")})
        conn, resp = self._open("GET", f"/view?{query}")
        try:
            if resp.status != 200:
                raise ServerError(f"GET /view of {ref['filename']!r} answered HTTP {resp.status}: {_snippet(resp.read())}")
            expected = resp.getheader("Content-Length")
            size = 0
            with open(dest, "wb") as fh:
                while chunk := resp.read(1 << 20):
                    fh.write(chunk)
                    size += len(chunk)
            if expected is not None and size != int(expected):
                raise ServerError(f"download of {ref['filename']!r} ended after {size} of {expected} bytes")
            return size
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(f"download of {ref['filename']!r} from {self.base_url} failed: {_reason(exc)}") from None
        finally:
            conn.close()

    def cancel(self, prompt_id: str) -> None:
        """Best effort: drop the prompt from the queue, or interrupt it if it is running."""
        for path, payload in (("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})):
            try:
                self._call("POST", path, payload=payload)
            except ComfyError as exc:
                log.debug("cancel %s: %s", path, exc)

    def open_events(self, client_id: str) -> WebSocket:
        """Connect the websocket event stream for `client_id` (raises OSError subclasses on failure)."""
        scheme = "wss" if self.scheme == "https" else "ws"
        return WebSocket.connect(f"{scheme}://{self.host}:{self.port}{self.prefix}/ws?clientId={quote(client_id)}",
                                 timeout=self.connect_timeout)


def _form_field(boundary: str, name: str, value: bytes, filename: str | None = None,
                content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{_quote_filename(filename)}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode("utf-8") + b"\r\n" + value + b"\r\n"


def _quote_filename(name: str) -> str:
    # Multipart filenames are quoted strings: escape what would end them (browsers percent-encode the same way).
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


def _decode_json(data: bytes, what: str) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServerError(f"{what} answered something that is not JSON: {_snippet(data)}") from None


def _snippet(data: object, limit: int = 300) -> str:
    if isinstance(data, bytes):
        text = data.decode("utf-8", "replace")
    else:
        text = data if isinstance(data, str) else json.dumps(data)
    return text if len(text) <= limit else text[:limit] + "..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

