"""One input image through a ComfyUI server: upload, queue, follow the run, download the outputs atomically.

The websocket only drives progress display and tells us early that the run ended; the outcome (success,
execution_error, interrupted) and the output files are always read from GET /history/<id>, so a lost websocket
degrades to polling without changing results.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import workflow_inputs as wi
from .api import ComfyClient, ComfyError, RunTimeout, ServerError

log = logging.getLogger("FaceLab")

POLL_INTERVAL = 1.0  # seconds between GET /history polls without a websocket
QUIET_CHECK = 5.0  # with a websocket, check /history after this long without a message (covers a missed final event)
FINAL_EVENTS = ("execution_success", "execution_error", "execution_interrupted")


class ExecutionFailed(ComfyError):
    """A node raised while the prompt ran (ComfyUI's execution_error)."""

    def __init__(self, data: object):
        if not isinstance(data, dict):  # a server (or proxy) that sends the error as a bare string
            data = {"exception_message": str(data)}
        self.data = data
        node = f"node #{data.get('node_id')} ({data.get('node_type')})" if data.get("node_id") else "a node"
        super().__init__(
            f"{node} failed: {data.get('exception_type', 'error')}: "
            f"{str(data.get('exception_message', '')).strip() or 'no message'}"
        )


class Stopped(ComfyError):
    """The run was stopped on our side (the dispatcher's Ctrl-C); the prompt is cancelled by whoever stopped it."""


class ExecutionInterrupted(ComfyError):
    """The run was interrupted on the server (Cancel in the UI, POST /interrupt)."""

    def __init__(self, data: object):
        data = data if isinstance(data, dict) else {}
        self.data = data
        where = f" at node #{data['node_id']} ({data.get('node_type')})" if data.get("node_id") else ""
        super().__init__(f"the run was interrupted on the server{where}")


class Events:
    """The /ws event stream for one client id, or nothing once it failed (then callers poll /history)."""

    def __init__(self, client: ComfyClient, client_id: str):
        self.client, self.client_id, self.ws = client, client_id, None

    def open(self) -> bool:
        try:
            self.ws = self.client.open_events(self.client_id)
        except (OSError, ValueError) as exc:
            log.warning("no progress stream (websocket %s: %s); polling /history instead", self.client.base_url, exc)
            self.ws = None
        return self.ws is not None

    def next(self, timeout: float) -> tuple[str, dict] | None:
        """(type, data) of the next JSON event; None after `timeout` or once the stream is lost."""
        if self.ws is None:
            return None
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.ws.recv(timeout=remaining)
            except (OSError, ValueError) as exc:  # WebSocketError is an OSError; ValueError: text that is not UTF-8
                log.warning("progress stream lost (%s); polling /history instead", exc)
                self.close()
                return None
            if message is None:
                return None
            if isinstance(message, bytes):  # binary preview frames: not shown
                continue
            try:
                event = json.loads(message)
                return str(event["type"]), dict(event.get("data") or {})
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                log.debug("ignoring malformed event %r", message[:200])
        return None

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None


def wait_for_history(
    client: ComfyClient,
    events: Events,
    prompt_id: str,
    deadline: float,
    on_event: Callable[[str, dict], None],
    stop: threading.Event | None = None,
) -> dict:
    """Follow the prompt until it ends; return its /history entry. Raises RunTimeout at `deadline`, Stopped
    within a second of `stop` being set."""
    ended = False
    while not ended:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RunTimeout("the time limit (--timeout) passed before the prompt ended")
        if stop is not None and stop.is_set():
            raise Stopped(f"prompt {prompt_id} stopped")
        event = events.next(min(remaining, QUIET_CHECK if stop is None else 1.0))  # None at once without a websocket
        if event is None:  # no stream, or a quiet one: the run may have ended without us hearing it
            entry = client.history(prompt_id)
            if entry:
                return entry
            if events.ws is None:
                time.sleep(min(POLL_INTERVAL, remaining))
            continue
        kind, data = event
        if data.get("prompt_id") not in (None, prompt_id):
            continue  # another client's prompt (broadcast events)
        on_event(kind, data)
        ended = kind in FINAL_EVENTS or (kind == "executing" and data.get("node") is None and "prompt_id" in data)
    # ComfyUI sends the final event just before it stores the history entry: give it a moment.
    while not (entry := client.history(prompt_id)):
        if time.monotonic() > deadline:
            raise RunTimeout(f"prompt {prompt_id} ended but its history never appeared")
        time.sleep(0.1)
    return entry


def check_outcome(entry: dict) -> None:
    """Raise ExecutionFailed / ExecutionInterrupted from a history entry's status messages."""
    status = entry.get("status") or {}
    if not isinstance(status, dict) or not isinstance(status.get("messages") or [], list):
        raise ServerError(f"GET /history answered a malformed status: {str(status)[:200]}")
    for message in status.get("messages") or []:
        if not isinstance(message, (list, tuple)) or len(message) != 2:
            continue
        kind, data = message
        if kind == "execution_error":
            raise ExecutionFailed(data)
        if kind == "execution_interrupted":
            raise ExecutionInterrupted(data)
    if status.get("status_str") == "error":
        raise ExecutionFailed({"exception_message": "ComfyUI reported an error without details"})


@dataclass
class Job:
    """What stays the same for every input of a run."""

    client: ComfyClient
    events: Events
    graph: dict  # API workflow with all options applied except the image
    loader_id: str  # node receiving the uploaded image
    timeout: float  # seconds for one input, from its upload to its last download
    on_event: Callable[[str, dict], None] = lambda kind, data: None
    extra_images: dict[str, Path] | None = None  # loader node id -> file (--input "Makeup Reference=ref.jpg")
    allow_partial: bool = False  # run what validated when ComfyUI reports node_errors with HTTP 200
    on_queued: Callable[[str], None] = lambda prompt_id: None
    stop: threading.Event | None = None  # set by the dispatcher on Ctrl-C: waiting ends (Stopped)

    def run(self, image: Path, out_dir: Path) -> list[Path]:
        """Upload, queue, wait, download; return the written files. Everything ends by the deadline (--timeout),
        even a request the server never answers; on timeout or Ctrl-C the prompt is cancelled on the server."""
        client = self.client.with_deadline(time.monotonic() + self.timeout)
        graph = self.upload(client, image)
        entry = self.execute(client, graph)
        return self.fetch(client, entry, graph, out_dir, image.stem)

    # The stages of run(), separate so the dispatcher can overlap uploads and downloads with sampling.
    def upload(self, client: ComfyClient, image: Path) -> dict:
        """Upload the photo and the --input images; return the graph that uses them."""
        graph = copy.deepcopy(self.graph)
        for node_id, path in {self.loader_id: image, **(self.extra_images or {})}.items():
            ref = client.upload_image(path)
            graph[node_id]["inputs"]["image"] = (
                f"{ref['subfolder']}/{ref['name']}" if ref.get("subfolder") else ref["name"]
            )
        return graph

    def execute(self, client: ComfyClient, graph: dict) -> dict:
        """Queue and follow the prompt; return its successful history entry (with "prompt_id" added)."""
        prompt_id = str(uuid.uuid4())  # proposed to the server, so even a POST /prompt that hangs can be cancelled
        try:
            prompt_id = client.queue_prompt(graph, self.events.client_id, prompt_id, self.allow_partial)
            self.on_queued(prompt_id)
            entry = wait_for_history(client, self.events, prompt_id, client.deadline, self._event, self.stop)
            check_outcome(entry)
            return {**entry, "prompt_id": prompt_id}
        except RunTimeout as exc:
            client.cancel(prompt_id)
            raise RunTimeout(f"{exc}; prompt {prompt_id} was cancelled on the server") from None
        except KeyboardInterrupt:
            client.cancel(prompt_id)
            raise

    def fetch(self, client: ComfyClient, entry: dict, graph: dict, out_dir: Path, stem: str) -> list[Path]:
        try:
            return save_outputs(client, output_refs(entry), graph, out_dir, stem)
        except RunTimeout as exc:
            raise RunTimeout(f"{exc} (prompt {entry.get('prompt_id')} had finished)") from None

    def _event(self, kind: str, data: dict) -> None:
        """Progress display must never end a run: a malformed event is logged and skipped."""
        try:
            self.on_event(kind, data)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            log.debug("could not show event %s %r: %s", kind, data, exc)


def output_refs(entry: dict) -> list[tuple[str, dict]]:
    """(node id, file ref) of every saved image ("output" type; previews are "temp" and skipped), by node id."""
    outputs = entry.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise ServerError(f"GET /history answered outputs that are a {type(outputs).__name__}, not an object")
    refs = []
    for node_id in sorted(outputs, key=wi.node_order):
        images = (outputs[node_id] or {}).get("images") if isinstance(outputs[node_id] or {}, dict) else None
        if not isinstance(images or [], list):
            raise ServerError(f"GET /history answered malformed outputs for node {node_id}: {str(images)[:200]}")
        for ref in images or []:
            if not isinstance(ref, dict) or ref.get("type", "output") != "output" or not ref.get("filename"):
                continue
            if not _plain_text(ref["filename"]) or not _plain_text(ref.get("subfolder", "")):
                raise ServerError(f"GET /history answered a malformed output file name: {str(ref)[:200]}")
            refs.append((node_id, ref))
    return refs


def _plain_text(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value


def output_names(refs: list[tuple[str, dict]], graph: dict, stem: str) -> list[str]:
    """<input stem>_<node title>_<n><ext>, n counting from 1 per title."""
    counters: dict[str, int] = {}
    names = []
    for node_id, ref in refs:
        label = wi.file_label(graph, node_id)
        counters[label] = counters.get(label, 0) + 1
        suffix = Path(ref["filename"]).suffix
        suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ".png"  # the server's name is untrusted
        names.append(f"{stem}_{label}_{counters[label]}{suffix}")
    return names


def save_outputs(
    client: ComfyClient, refs: list[tuple[str, dict]], graph: dict, out_dir: Path, stem: str
) -> list[Path]:
    """Download every output to a hidden temp name in `out_dir`, then rename all of them into place: an input
    gets all of its outputs or none, and a failed download leaves no file behind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    finals = [out_dir / name for name in output_names(refs, graph, stem)]
    temps: list[Path] = []
    try:
        for (_, ref), final in zip(refs, finals):
            temps.append(final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part"))
            client.download(ref, temps[-1])
        for temp, final in zip(temps, finals):
            os.replace(temp, final)
    finally:
        for temp in temps:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
    return finals
