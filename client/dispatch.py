"""A photo set spread over several ComfyUI servers (`queue ... --server A --server B`), resumable.

Per server, `per_server + 1` worker threads share a semaphore of `per_server` prompt slots: a worker takes a slot,
then a photo, uploads it, queues and follows the prompt, and releases the slot as soon as the prompt ended, before
downloading the outputs. So one photo's download overlaps with the next one's upload and sampling, while the
server never has more than `per_server` of our prompts in flight (ComfyUI runs one at a time anyway). A photo is
taken only with a slot in hand, so no photo waits behind a busy server while another one is idle.

Faults: a photo whose prompt failed on a server (connection refused or dropped, execution error, interrupt,
timeout, rejection) is re-queued, preferably on a server that has not failed it, up to `retries` times; failures
before anything was queued (the server is down) do not count against the photo. A server backs off after each
fault (0.5, 1, 2 s) and is dropped after MAX_SERVER_FAILURES consecutive faults. Finished photos are appended to the
manifest (manifest.py) as they complete; a re-run skips photos done with the same photo and settings whose outputs
are intact. Ctrl-C cancels the prompts in flight on their servers and leaves the manifest consistent.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .api import ComfyClient, ComfyError, InputUnreadable, PromptRejected
from .console import Console
from .dispatch_report import Progress, summary
from .manifest import MANIFEST_NAME, Manifest, file_sha256, settings_hash
from .run_workflow import Events, ExecutionFailed, Job, Stopped

MAX_SERVER_FAILURES = 3
BACKOFF = 0.5  # seconds after a server's first fault, doubled per consecutive fault
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_CTRL_C = 0, 1, 2, 3, 130
# Magic bytes of the formats ComfyUI's LoadImage opens (PIL): a file without them is skipped before upload.
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


@dataclass
class Task:
    photo: Path
    sha256: str
    attempts: int = 0  # prompts of this photo that failed
    avoid: set = field(default_factory=set)  # servers that failed it
    error: str = ""


@dataclass
class Server:
    client: ComfyClient
    slots: threading.Semaphore
    failures: int = 0  # consecutive faults
    dropped: str = ""  # why it was dropped
    done: int = 0
    faults: int = 0
    busy: float = 0.0  # seconds spent on photos that ended done

    @property
    def name(self) -> str:
        return self.client.base_url


def unreadable(path: Path) -> str | None:
    """Why the photo cannot be sent (None when it looks like an image)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return None
    return "is empty" if not head else "is not a PNG, JPEG, WebP, GIF, BMP or TIFF image"


class Dispatcher:
    def __init__(
        self,
        args: argparse.Namespace,
        servers: list[Server],
        graph: dict,
        loader_id: str,
        extra: dict[str, Path],
        manifest: Manifest,
        settings: str,
        progress: Progress,
    ):
        self.args, self.servers, self.graph, self.loader_id, self.extra = args, servers, graph, loader_id, extra
        self.manifest, self.settings, self.progress = manifest, settings, progress
        self.pending: list[Task] = []
        self.total = 0
        self.results: dict[str, str] = {}  # photo name -> done / failed
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.in_flight: dict[int, tuple[Server, str]] = {}  # worker id -> (server, prompt id)
        self.current: dict[int, str] = {}  # worker id -> photo it runs

    # -- task queue ------------------------------------------------------------------------------------------
    def _active(self, server: Server) -> bool:
        return not self.stop.is_set() and not server.dropped and len(self.results) < self.total

    def _acquire(self, server: Server) -> bool:
        while self._active(server):
            if server.slots.acquire(timeout=0.2):
                return True
        return False

    def _take(self, server: Server) -> Task | None:
        """A pending photo for this server; waits while photos in flight elsewhere may still come back."""
        with self.cond:
            while self._active(server):
                live = {s.name for s in self.servers if not s.dropped}
                # A task that failed here waits for another server, unless every live server has failed it.
                task = next((t for t in self.pending if server.name not in t.avoid or live <= t.avoid), None)
                if task is not None:
                    self.pending.remove(task)
                    return task
                self.cond.wait(0.2)
            return None

    def _resolve(self, task: Task, status: str) -> None:
        with self.cond:
            self.results[task.photo.name] = status
            self.cond.notify_all()

    # -- workers ---------------------------------------------------------------------------------------------
    def _worker(self, server: Server, worker_id: int) -> None:
        events = Events(server.client, uuid.uuid4().hex)
        job = Job(
            server.client,
            events,
            self.graph,
            self.loader_id,
            self.args.timeout,
            extra_images=self.extra,
            allow_partial=self.args.allow_partial,
            stop=self.stop,
            on_queued=lambda pid: self.in_flight.__setitem__(worker_id, (server, pid)),
            on_event=lambda kind, data: self._prompt_event(worker_id, server, kind, data),
        )
        events.open()
        try:
            while self._acquire(server):
                task = self._take(server)
                if task is None:
                    server.slots.release()
                    break
                self._run(server, job, task, worker_id)  # releases the slot
        finally:
            events.close()

    def _prompt_event(self, worker_id: int, server: Server, kind: str, data: dict) -> None:
        """Per-prompt progress: sampler steps of the photo this worker runs (at quarters, see Progress.step)."""
        photo = self.current.get(worker_id)
        if kind == "progress" and photo is not None:
            self.progress.step(photo, server.name, int(float(data.get("value") or 0)), int(float(data.get("max") or 0)))

    def _run(self, server: Server, job: Job, task: Task, worker_id: int) -> None:
        self.current[worker_id] = task.photo.name
        start = time.monotonic()
        client = server.client.with_deadline(start + self.args.timeout)
        queued, slot = False, True  # the worker took a slot before the photo (_worker)
        self.progress.event("started", photo=task.photo.name, server=server.name, attempt=task.attempts + 1)
        try:
            graph = job.upload(client, task.photo)
            queued = True
            try:
                entry = job.execute(client, graph)
            finally:
                self.in_flight.pop(worker_id, None)
                server.slots.release()
                slot = False
            out_dir = self.args.out or task.photo.parent
            files = job.fetch(client, entry, graph, out_dir, task.photo.stem)
        except Stopped:
            with self.cond:
                self.pending.append(task)  # not done: stays pending in the manifest's eyes
            return
        except ComfyError as exc:
            if slot:  # the upload failed: free the slot before backing off
                server.slots.release()
                slot = False
            self._fault(server, task, exc, queued)
            return
        finally:
            if slot:
                server.slots.release()
        seconds = time.monotonic() - start
        outputs = [{"file": path.name, "sha256": file_sha256(path)} for path in files]
        self.manifest.add(
            {
                "photo": task.photo.name,
                "sha256": task.sha256,
                "settings": self.settings,
                "status": "done",
                "server": server.name,
                "prompt_id": entry.get("prompt_id"),
                "outputs": outputs,
                "attempts": task.attempts + 1,
                "seconds": round(seconds, 3),
            }
        )
        with self.cond:
            server.failures, server.done, server.busy = 0, server.done + 1, server.busy + seconds
        self._resolve(task, "done")
        self.progress.event(
            "done", photo=task.photo.name, server=server.name, seconds=round(seconds, 3), files=[str(p) for p in files]
        )

    def _fault(self, server: Server, task: Task, exc: ComfyError, queued: bool) -> None:
        if isinstance(exc, InputUnreadable):  # our side: no server is to blame, no retry helps
            task.error = str(exc)
            self._fail(task, "")
            return
        # Counted against the photo only if its prompt got to the server, or the server judged the workflow.
        counts = queued or isinstance(exc, (PromptRejected, ExecutionFailed))
        with self.cond:
            task.attempts += counts
            task.avoid.add(server.name)
            task.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            server.failures += 1
            server.faults += 1
            give_up = task.attempts > self.args.retries
            if not give_up:
                self.pending.append(task)
            drop = server.failures >= MAX_SERVER_FAILURES
            if drop:
                server.dropped = f"{server.failures} faults in a row, the last: {task.error}"
            self.cond.notify_all()
        if give_up:
            self._fail(task, server.name)
        else:
            self.progress.event("retry", photo=task.photo.name, server=server.name, error=task.error)
        if drop:
            self.progress.event("server_dropped", server=server.name, error=server.dropped)
            self._fail_leftovers()
        else:
            self.stop.wait(BACKOFF * 2 ** (server.failures - 1))

    def _fail(self, task: Task, server: str) -> None:
        self.manifest.add(
            {
                "photo": task.photo.name,
                "sha256": task.sha256,
                "settings": self.settings,
                "status": "failed",
                "server": server,
                "error": task.error,
                "attempts": task.attempts,
            }
        )
        self._resolve(task, "failed")
        self.progress.event("failed", photo=task.photo.name, server=server, error=task.error)

    def _fail_leftovers(self) -> None:
        """Once no server is left, the pending photos fail (with the last error each had)."""
        with self.cond:
            if any(not s.dropped for s in self.servers):
                return
            leftovers, self.pending = self.pending, []
        for task in leftovers:
            task.error = task.error or "no server left"
            self._fail(task, "")

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self, tasks: list[Task]) -> bool:
        """Process `tasks`; False when stopped by Ctrl-C (prompts in flight are then cancelled)."""
        self.pending, self.total = list(tasks), len(tasks)
        threads = [
            threading.Thread(target=self._worker, args=(server, i * 1000 + k), daemon=True)
            for i, server in enumerate(self.servers)
            if not server.dropped
            for k in range(self.args.per_server + 1)
        ]
        for thread in threads:
            thread.start()
        try:
            with self.cond:
                while len(self.results) < len(tasks) and any(t.is_alive() for t in threads):
                    self.cond.wait(0.2)
            self._fail_leftovers()
            return True
        except KeyboardInterrupt:
            self.stop.set()
            for server, prompt_id in list(self.in_flight.values()):
                server.client.cancel(prompt_id)
                self.progress.event("cancelled", server=server.name, prompt_id=prompt_id)
            for thread in threads:
                thread.join(timeout=3)
            return False


def run_dispatch(
    args: argparse.Namespace,
    clients: list[ComfyClient],
    graph: dict,
    loader_id: str,
    extra: dict[str, Path],
    photos: list[Path],
    console: Console,
) -> int:
    if args.per_server < 1 or args.retries < 0:
        console.error("--per-server must be at least 1 and --retries at least 0")
        return EXIT_USAGE
    progress = Progress(console, json_out=args.json)
    servers = [Server(client, threading.Semaphore(args.per_server)) for client in clients]
    for server in servers:  # a server that is down or is not a ComfyUI is left out from the start
        try:
            server.client.queue_info()
        except ComfyError as exc:
            server.dropped = str(exc)
            progress.event("server_dropped", server=server.name, error=str(exc))
    if all(s.dropped for s in servers):
        console.error("no ComfyUI server answered; nothing was queued")
        return EXIT_UNREACHABLE
    out_dir = args.out or (args.image if args.image.is_dir() else args.image.parent)
    try:
        manifest = Manifest(out_dir / MANIFEST_NAME)
        settings = settings_hash(graph, extra)
    except (ValueError, OSError) as exc:
        console.error(str(exc))
        return EXIT_USAGE
    dispatcher = Dispatcher(args, servers, graph, loader_id, extra, manifest, settings, progress)
    tasks, skipped, already = [], {}, []
    for photo in photos:
        if (why := unreadable(photo)) is not None:
            skipped[photo.name] = f"{photo.name} {why}"
            manifest.add({"photo": photo.name, "status": "skipped", "error": skipped[photo.name]})
            progress.event("skipped", photo=photo.name, error=skipped[photo.name])
            continue
        digest = file_sha256(photo)
        if manifest.is_done(photo.name, digest, settings, args.out or photo.parent):
            already.append(photo.name)
            continue
        tasks.append(Task(photo, digest))
    progress.start(total=len(tasks), already=len(already), skipped=len(skipped))
    finished = dispatcher.run(tasks)
    manifest.compact()
    failed = {name for name, status in dispatcher.results.items() if status == "failed"}
    summary(progress, dispatcher.results, already, skipped, servers, manifest)
    if not finished:
        console.error(
            "stopped (Ctrl-C): the prompts in flight were cancelled on their servers; re-run the same "
            "command to finish (done photos are skipped)"
        )
        return EXIT_CTRL_C
    return EXIT_FAILED if failed else EXIT_OK


__all__ = ["Dispatcher", "MAX_SERVER_FAILURES", "run_dispatch", "unreadable"]
