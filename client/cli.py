"""`python -m facelab queue WORKFLOW_API.json --image PHOTO_OR_FOLDER [...]`: run a workflow on a ComfyUI server
(several servers: client/dispatch.py).

Exit codes (docs/client.md): 0 every input done, 1 a node failed (execution_error), 2 bad arguments/workflow,
3 server unreachable, 4 workflow rejected (HTTP 400, or HTTP 200 with node_errors), 5 interrupted on the server,
6 timeout, 7 other server/protocol/download failure, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from . import workflow_inputs as wi
from .api import ComfyClient, ComfyError, InputUnreadable, PromptRejected, RunTimeout, ServerUnreachable
from .console import Console
from .options import add_arguments, collect_images, load_workflow, prepare_workflow, server_urls
from .run_workflow import Events, ExecutionFailed, ExecutionInterrupted, Job

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REJECTED, EXIT_INTERRUPTED, EXIT_TIMEOUT, EXIT_SERVER = range(
    8
)
EXIT_CTRL_C = 130

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    console = Console(sys.stderr, verbose=getattr(args, "verbose", False))
    try:
        return _run(args, console)
    except KeyboardInterrupt:  # outside a photo's run (probing the server, hashing): nothing to cancel
        console.error("stopped (Ctrl-C)")
        return EXIT_CTRL_C


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.list_inputs:
        return list_inputs(args, console)
    try:
        if args.image is None:
            raise ValueError("--image PHOTO_OR_FOLDER is required (or --list-inputs)")
        graph, loader_id, extra = prepare_workflow(args)
        photos = collect_images(args.image, graph, args.out)
        urls = server_urls(args)
        clients = [ComfyClient(url, connect_timeout=args.connect_timeout) for url in urls]
    except ValueError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    if len(clients) > 1 or args.servers_file is not None:
        from .dispatch import run_dispatch

        return run_dispatch(args, clients, graph, loader_id, extra, photos, console)
    return run_single(args, clients[0], graph, loader_id, extra, photos, console)


def list_inputs(args: argparse.Namespace, console: Console) -> int:
    try:
        graph = load_workflow(args.workflow)
    except ValueError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    for line in wi.settable_inputs(graph):
        print(line)
    return EXIT_OK


def run_single(
    args: argparse.Namespace,
    client: ComfyClient,
    graph: dict,
    loader_id: str,
    extra: dict,
    photos: list[Path],
    console: Console,
) -> int:
    try:
        queued = client.queue_info()["exec_info"].get("queue_remaining", 0)
    except ComfyError as exc:
        console.error(str(exc))
        return exit_code(exc)
    except AttributeError:
        queued = 0
    if queued:
        console.write(f"ComfyUI at {client.base_url} has {queued} prompt(s) queued before ours")
    events = Events(client, uuid.uuid4().hex)
    events.open()
    job = Job(
        client,
        events,
        graph,
        loader_id,
        args.timeout,
        on_event=console.event,
        extra_images=extra,
        allow_partial=args.allow_partial,
    )
    done: list[Path] = []
    failed: list[Path] = []
    code = EXIT_OK
    try:
        for index, photo in enumerate(photos, 1):
            console.start_input(photo.name, index, len(photos), graph)
            try:
                files = job.run(photo, args.out or photo.parent)
            except ComfyError as exc:
                report(console, exc, graph)
                failed.append(photo)
                code = exit_code(exc)
                if isinstance(exc, ExecutionFailed) and args.keep_going:
                    continue
                break
            except KeyboardInterrupt:
                console.error("stopped (Ctrl-C); this photo's prompt, if it was queued, was cancelled on the server")
                failed.append(photo)
                code = EXIT_CTRL_C
                break
            done.append(photo)
            if not files:
                console.write(
                    f"{console.prefix} warning: the workflow saved no image (does it end in a SaveImage node?)"
                )
            for path in files:
                print(path, flush=True)
    finally:
        events.close()
    _summary(console, photos, done, failed)
    return code


def report(console: Console, exc: ComfyError, graph: dict) -> None:
    """One failure, as the user needs to see it (node errors and tracebacks in full, else one line)."""
    if isinstance(exc, ExecutionFailed):
        console.execution_error(exc.data, graph)
    elif isinstance(exc, PromptRejected):
        console.prompt_rejected(exc.error, exc.node_errors, graph, partial=exc.prompt_id is not None)
    else:
        console.error(str(exc))


def exit_code(exc: ComfyError) -> int:
    for kind, code in (
        (ExecutionFailed, EXIT_FAILED),
        (PromptRejected, EXIT_REJECTED),
        (InputUnreadable, EXIT_USAGE),
        (ServerUnreachable, EXIT_UNREACHABLE),
        (ExecutionInterrupted, EXIT_INTERRUPTED),
        (RunTimeout, EXIT_TIMEOUT),
    ):
        if isinstance(exc, kind):
            return code
    return EXIT_SERVER


def _summary(console: Console, photos: list[Path], done: list[Path], failed: list[Path]) -> None:
    """Which photos of a folder have their outputs, so a run that stopped half-way leaves nothing ambiguous."""
    if len(photos) == 1:
        return
    not_run = photos[len(done) + len(failed) :]
    console.write(f"{len(done)} of {len(photos)} photo(s) done" + (f": {_names(done)}" if done and failed else ""))
    if failed:
        console.write(f"failed (no outputs written): {_names(failed)}")
    if not_run:
        console.write(f"not run: {_names(not_run)}")


def _names(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths)
