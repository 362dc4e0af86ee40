"""HTTP side of ComfyUI's server API (as served by ComfyUI 0.33, see tests/data/comfyui_http_contract/):

POST /upload/image   multipart image/type/overwrite -> {"name", "subfolder", "type"}
POST /prompt         {"prompt", "client_id"} -> {"prompt_id", "number", "node_errors"}; HTTP 400 {"error", "node_errors"}
GET  /history/<id>   {} while queued/running, then {id: {"prompt", "outputs", "status", "meta"}}
GET  /view           ?filename=&subfolder=&type= -> the file's bytes
POST /queue, POST /interrupt   cancel a queued / running prompt
GET  /ws?clientId=   the JSON event stream (websocket.py)

Standard library only. Every connection has a connect timeout (an unreachable server fails fast with a hint)
and a read timeout (a server that stops answering cannot hang the client); a client made with `with_deadline` also
stops every request at that moment (RunTimeout). Credentials in the URL (http://user:pass@host) are sent as HTTP
basic auth and never shown: messages use the redacted URL. JSON answers and downloads are capped in size.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import logging
import mimetypes
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

from .websocket import WebSocket

log = logging.getLogger("FaceLab")

DEFAULT_SERVER = "http://127.0.0.1:8188"
START_HINT = "start ComfyUI (e.g. `python main.py --listen 127.0.0.1 --port 8188` in its folder) or pass --server URL"
MAX_JSON_BYTES = 64 << 20  # a history entry with a big graph is a few MB; anything this large is not ComfyUI's
MAX_DOWNLOAD_BYTES = 2 << 30  # one output image (a 16k PNG is ~0.8 GB); beyond this the server is misbehaving


class ComfyError(Exception):
    """Base of the client's errors; str() is a complete message for the user."""


class ServerUnreachable(ComfyError):
    def __init__(self, url: str, reason: object):
        super().__init__(f"cannot reach ComfyUI at {url} ({reason}); {START_HINT}")
        self.url = url


class ServerError(ComfyError):
    """Unexpected HTTP status, malformed answer, or the server stopped answering mid-request."""


class InputUnreadable(ComfyError):
    """A local file to upload cannot be read (our side, not the server's)."""


class RunTimeout(ComfyError):
    """The overall deadline (--timeout) passed, possibly in the middle of a request."""


class PromptRejected(ComfyError):
    """POST /prompt refused the workflow: HTTP 400, or HTTP 200 with node_errors (ComfyUI then queues only the
    outputs that validated, e.g. the previews when the checkpoint is missing). `node_errors` is normalised to
    {node id: {"class_type", "errors": [{"message", "details", "extra_info"}]}}, whatever shape the server sent."""

    def __init__(self, body: dict, prompt_id: str | None = None):
        error = body.get("error") or {}
        if not isinstance(error, dict):
            error = {"message": str(error)}
        if not error.get("message"):
            error = {**error, "message": "some outputs failed validation" if prompt_id else "prompt rejected"}
        super().__init__(f"ComfyUI rejected the workflow: {error['message']}")
        self.error, self.prompt_id = error, prompt_id  # prompt_id: the partial prompt queued (HTTP 200)
        self.node_errors = normalise_node_errors(body.get("node_errors"))


def normalise_node_errors(raw: object) -> dict[str, dict]:
    """ComfyUI's node_errors as {id: {"class_type", "errors": [dict]}}; a list or other shape is kept readable."""
    if isinstance(raw, list):
        raw = {str(i): entry for i, entry in enumerate(raw)} if raw else {}
    if not isinstance(raw, dict):
        raw = {"?": {"errors": [{"message": _snippet(raw)}]}} if raw else {}
    out = {}
    for node_id, entry in raw.items():
        if not isinstance(entry, dict):
            entry = {"errors": [{"message": _snippet(entry)}]}
        errors = entry.get("errors")
        errors = errors if isinstance(errors, list) else [] if errors is None else [errors]
        errors = [e if isinstance(e, dict) else {"message": _snippet(e)} for e in errors]
        out[str(node_id)] = {"class_type": str(entry.get("class_type", "?")), "errors": errors}
    return out


def redact(url: str) -> str:
    """The URL with any user:password replaced by ***."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


class ComfyClient:
    """One ComfyUI server. Each request opens its own connection (ComfyUI's aiohttp serves them cheaply)."""

    def __init__(self, server: str = DEFAULT_SERVER, connect_timeout: float = 5.0, read_timeout: float = 60.0):
        parts = urlsplit(server if "://" in server else f"http://{server}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ValueError(f"--server must look like http://127.0.0.1:8188, got {redact(server)!r}")
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")  # ComfyUI behind a reverse proxy under a sub-path
        host = parts.netloc.rpartition("@")[2]
        self.base_url = f"{parts.scheme}://{'***@' if '@' in parts.netloc else ''}{host}{self.prefix}"
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.deadline: float | None = None  # time.monotonic() value after which every request raises RunTimeout

    def with_deadline(self, deadline: float | None) -> ComfyClient:
        """A copy whose requests all end by `deadline` (time.monotonic()), mid-request if need be."""
        other = copy.copy(self)
        other.deadline = deadline
        return other

    def _timeout(self, limit: float, what: str) -> float:
        if self.deadline is None:
            return limit
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RunTimeout(f"the time limit (--timeout) passed before {what}")
        return min(limit, remaining)

    def _failed(self, what: str, exc: BaseException) -> ComfyError:
        if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
            return RunTimeout(f"the time limit (--timeout) passed during {what} (ComfyUI at {self.base_url})")
        return ServerError(f"ComfyUI at {self.base_url} stopped answering {what}: {_reason(exc)}")

    # -- transport -------------------------------------------------------------------------------------------
    def _open(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
        read_timeout: float | None = None,
    ):
        """Send a request; return (connection, response). The caller reads the body and closes the connection."""
        what = f"{method} {path.partition('?')[0]}"
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self._timeout(self.connect_timeout, what))
        try:
            conn.connect()
        except (TimeoutError, OSError) as exc:
            conn.close()
            failure = self._failed(what, exc)
            raise (failure if isinstance(failure, RunTimeout) else ServerUnreachable(self.base_url, exc)) from None
        conn.raw_sock = conn.sock  # http.client drops conn.sock once a response says "Connection: close"
        try:
            conn.sock.settimeout(self._timeout(read_timeout or self.read_timeout, what))
            conn.request(method, self.prefix + path, body=body, headers={**self.headers, **(headers or {})})
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._failed(what, exc) from None
        except RunTimeout:
            conn.close()
            raise

    def _call(
        self,
        method: str,
        path: str,
        payload: object = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        read_timeout: float | None = None,
    ) -> tuple[int, bytes]:
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": content_type} if body is not None else {}
        conn, resp = self._open(method, path, body, headers, read_timeout)
        try:
            if int(resp.getheader("Content-Length") or 0) > MAX_JSON_BYTES:
                raise ServerError(
                    f"{method} {path} on {self.base_url} answered {resp.getheader('Content-Length')} "
                    f"bytes, more than the {_size(MAX_JSON_BYTES)} an answer may have"
                )
            data = _read_capped(
                resp,
                MAX_JSON_BYTES,
                lambda: _settimeout(
                    conn.raw_sock, self._timeout(read_timeout or self.read_timeout, f"{method} {path}")
                ),
            )
            if data is None:
                raise ServerError(
                    f"{method} {path} on {self.base_url} answered more than "
                    f"{_size(MAX_JSON_BYTES)}; that is not a ComfyUI answer"
                )
            return resp.status, data
        except ValueError:
            raise ServerError(f"{method} {path} on {self.base_url} answered a malformed Content-Length") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failed(f"{method} {path}", exc) from None
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
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputUnreadable(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        parts = [
            _form_field(boundary, "image", data, filename=path.name, content_type=mime),
            _form_field(boundary, "type", b"input"),
            _form_field(boundary, "overwrite", b"true" if overwrite else b"false"),
        ]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        ref = self._json("POST", "/upload/image", body=body, content_type=f"multipart/form-data; boundary={boundary}")
        if not isinstance(ref, dict) or not ref.get("name"):
            raise ServerError(f"POST /upload/image answered without a file name: {_snippet(ref)}")
        return ref

    def queue_prompt(
        self, graph: dict, client_id: str, prompt_id: str | None = None, allow_partial: bool = False
    ) -> str:
        """Queue an API-format graph; return its prompt_id. `prompt_id` (a UUID) is proposed to the server (ComfyUI
        0.33+ uses it, older ones mint their own), so a request that hangs can still be cancelled by id.
        Raises PromptRejected on HTTP 400, and on HTTP 200 with node_errors unless `allow_partial` (ComfyUI has
        then queued only the outputs that validated: that partial prompt is cancelled first)."""
        payload = {"prompt": graph, "client_id": client_id, **({"prompt_id": prompt_id} if prompt_id else {})}
        status, data = self._call("POST", "/prompt", payload=payload)
        body = _decode_json(data, "POST /prompt") if data else {}
        if status == 400 and isinstance(body, dict):
            raise PromptRejected(body)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("prompt_id"), (str, int)):
            raise ServerError(f"POST /prompt answered HTTP {status}: {_snippet(data)}")
        queued = str(body["prompt_id"])
        if body.get("node_errors") and not allow_partial:
            self.cancel(queued)
            raise PromptRejected(body, prompt_id=queued)
        return queued

    def history(self, prompt_id: str) -> dict | None:
        """The finished prompt's history entry, or None while it is still queued or running."""
        out = self._json("GET", f"/history/{quote(prompt_id)}")
        if not isinstance(out, dict):
            raise ServerError(f"GET /history answered a {type(out).__name__}, not a JSON object: {_snippet(out)}")
        entry = out.get(prompt_id)
        if entry is not None and not isinstance(entry, dict):
            raise ServerError(f"GET /history answered an entry that is a {type(entry).__name__}: {_snippet(entry)}")
        return entry or None

    def download(self, ref: dict, dest: Path) -> int:
        """Stream an output file ({"filename", "subfolder", "type"}) into `dest`; return its size.
        A body shorter than Content-Length (server dropped the connection) raises ServerError; the caller
        owns `dest` and deletes it on error."""
        query = urlencode(
            {"filename": ref["filename"], "subfolder": ref.get("subfolder", ""), "type": ref.get("type", "output")}
        )
        conn, resp = self._open("GET", f"/view?{query}")
        name = ref["filename"]
        try:
            if resp.status != 200:
                raise ServerError(f"GET /view of {name!r} answered HTTP {resp.status}: {_snippet(resp.read(4096))}")
            expected = resp.getheader("Content-Length")
            expected_size = int(expected) if expected is not None else None
            if expected_size is not None and expected_size > MAX_DOWNLOAD_BYTES:
                raise ServerError(
                    f"{name!r} is {expected_size} bytes, more than the {_size(MAX_DOWNLOAD_BYTES)} an output may have"
                )
            size = 0
            with open(dest, "wb") as fh:
                while True:
                    _settimeout(conn.raw_sock, self._timeout(self.read_timeout, f"the download of {name!r}"))
                    if not (chunk := resp.read(1 << 20)):
                        break
                    fh.write(chunk)
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise ServerError(f"download of {name!r} passed {_size(MAX_DOWNLOAD_BYTES)}; stopped")
            if expected_size is not None and size != expected_size:
                raise ServerError(f"download of {name!r} ended after {size} of {expected} bytes")
            return size
        except ValueError:
            raise ServerError(f"GET /view of {name!r} answered a malformed Content-Length {expected!r}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failed(f"the download of {name!r}", exc) from None
        finally:
            conn.close()

    def cancel(self, prompt_id: str) -> None:
        """Best effort: drop the prompt from the queue, or interrupt it if it is running. Not bound by the
        deadline (it is what runs when the deadline passed), but by the connect timeout, so it cannot hang."""
        unbounded = self.with_deadline(None)
        for path, payload in (("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})):
            try:
                unbounded._call("POST", path, payload=payload, read_timeout=self.connect_timeout)
            except ComfyError as exc:
                log.debug("cancel %s: %s", path, exc)

    def open_events(self, client_id: str) -> WebSocket:
        """Connect the websocket event stream for `client_id` (raises OSError subclasses on failure)."""
        scheme = "wss" if self.scheme == "https" else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return WebSocket.connect(
            f"{scheme}://{host}:{self.port}{self.prefix}/ws?clientId={quote(client_id)}",
            timeout=self.connect_timeout,
            headers=self.headers,
        )


def _form_field(
    boundary: str, name: str, value: bytes, filename: str | None = None, content_type: str | None = None
) -> bytes:
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


def _settimeout(sock: socket.socket, seconds: float) -> None:
    # Once a "Connection: close" body is read to its end the socket is closed: the next read returns b"" anyway.
    try:
        sock.settimeout(seconds)
    except OSError:
        pass


def _read_capped(resp: http.client.HTTPResponse, limit: int, before_read) -> bytes | None:
    """The body, or None once it passes `limit` bytes (the rest is not read)."""
    chunks, size = [], 0
    while True:
        before_read()
        chunk = resp.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def _decode_json(data: bytes, what: str) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServerError(f"{what} answered something that is not JSON: {_snippet(data)}") from None
    except RecursionError:
        raise ServerError(f"{what} answered JSON nested too deeply to be ComfyUI's") from None


def _snippet(data: object, limit: int = 300) -> str:
    if isinstance(data, bytes):
        text = data[: limit * 4].decode("utf-8", "replace")
    else:
        try:
            text = data if isinstance(data, str) else json.dumps(data)[: limit * 4]
        except (TypeError, ValueError, RecursionError):
            text = repr(data)[: limit * 4]
    return text if len(text) <= limit else text[:limit] + "..."


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n} bytes"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
