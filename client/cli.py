"""`python -m facelab queue WORKFLOW_API.json --image PHOTO_OR_FOLDER [...]`: run a workflow on a ComfyUI server.

Exit codes (docs/client.md): 0 every input done, 1 a node failed (execution_error), 2 bad arguments/workflow,
3 server unreachable, 4 workflow rejected (HTTP 400 node_errors), 5 interrupted on the server, 6 timeout,
7 other server/protocol/download failure, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path

from . import workflow_inputs as wi
from .api import DEFAULT_SERVER, ComfyClient, ComfyError, PromptRejected, ServerUnreachable
from .console import Console
from .run_workflow import Events, ExecutionFailed, ExecutionInterrupted, Job, RunTimeout

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REJECTED, EXIT_INTERRUPTED, EXIT_TIMEOUT, EXIT_SERVER = range(8)
EXIT_CTRL_C = 130
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workflow", type=Path, help="workflow in ComfyUI's API format (workflows/api/*.json, or "
                        "Workflow > Export (API) in ComfyUI)")
    parser.add_argument("--image", required=True, type=Path, metavar="PHOTO_OR_FOLDER",
                        help="a photo, or a folder whose photos are run one after the other")
    parser.add_argument("--server", default=os.environ.get("COMFYUI_URL", DEFAULT_SERVER),
                        help=f"ComfyUI server URL (default: $COMFYUI_URL or {DEFAULT_SERVER})")
    parser.add_argument("--set", action="append", default=[], metavar="TITLE.INPUT=VALUE",
                        help="set an input of the node(s) with this title, e.g. --set \"Sampler.steps=30\" (repeatable)")
    parser.add_argument("--seed", type=int, help="seed of the node titled \"Seed\" (else the \"Sampler\")")
    parser.add_argument("--strength", type=float, help="edit strength: node \"Strength\" (else the \"Sampler\" denoise)")
    parser.add_argument("--zone-scores", metavar="JSON", help="scores for the node titled \"Zone Scores\" (zone groups "
                        "set its sliders, single sides its side_overrides), e.g. '{\"forehead\": 0.6, \"crows_feet_left\": 0.3}'")
    parser.add_argument("--prompt", metavar="TEXT", help="text of the node titled \"Positive Prompt\"")
    parser.add_argument("--negative", metavar="TEXT", help="text of the node titled \"Negative Prompt\"")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: next to each input)")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="seconds one photo may take from queueing to its result; then it is cancelled (default 1800)")
    parser.add_argument("--connect-timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for a connection, and for the server's first answer (default 5)")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a photo fails in a node, go on with the next photos of the folder")


def prepare_workflow(args: argparse.Namespace) -> tuple[dict, str]:
    """Load the API workflow, apply every option except the image; return it and the image loader's id."""
    try:
        graph = wi.check_api_workflow(json.loads(args.workflow.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ValueError(f"cannot read the workflow {str(args.workflow)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{args.workflow} is not valid JSON: {exc}") from None
    for text in args.set:
        wi.set_input(graph, *wi.parse_assignment(text))
    options = {"seed": args.seed, "strength": args.strength, "prompt": args.prompt, "negative": args.negative}
    for option, value in options.items():
        if value is not None:
            wi.apply_convention(graph, option, value)
    if args.zone_scores is not None:
        wi.apply_zone_scores(graph, wi.parse_zone_scores(args.zone_scores))
    return graph, wi.image_loader(graph)


def collect_images(path: Path, graph: dict, out_dir: Path | None) -> list[Path]:
    """The photo, or the photos of a folder (sorted, not recursive). In a folder that also receives the outputs,
    files named like this workflow's outputs of another photo there (<stem>_<node title>_<n>) are skipped."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"--image {str(path)!r}: no such file or folder")
    photos = sorted(p for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if out_dir is None or out_dir.resolve() == path.resolve():
        labels = "|".join(sorted({re.escape(wi.file_label(graph, nid)) for nid in graph}, key=len, reverse=True))
        pattern = re.compile(rf"^(?P<stem>.+)_(?:{labels})_\d+$")
        stems = {p.stem for p in photos}
        photos = [p for p in photos if not ((m := pattern.match(p.stem)) and m["stem"] in stems)]
    if not photos:
        raise ValueError(f"--image {str(path)!r}: the folder has no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return photos


def run(args: argparse.Namespace) -> int:
    console = Console(sys.stderr, verbose=getattr(args, "verbose", False))
    try:
        graph, loader_id = prepare_workflow(args)
        photos = collect_images(args.image, graph, args.out)
        client = ComfyClient(args.server, connect_timeout=args.connect_timeout)
    except ValueError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    try:
        queued = client.queue_info()["exec_info"].get("queue_remaining", 0)
    except ComfyError as exc:
        console.error(str(exc))
        return EXIT_UNREACHABLE if isinstance(exc, ServerUnreachable) else EXIT_SERVER
    if queued:
        console.write(f"ComfyUI at {client.base_url} has {queued} prompt(s) queued before ours")
    events = Events(client, uuid.uuid4().hex)
    events.open()
    job = Job(client, events, graph, loader_id, args.timeout, on_event=console.event)
    done: list[Path] = []
    failed: list[Path] = []
    code = EXIT_OK
    try:
        for index, photo in enumerate(photos, 1):
            console.start_input(photo.name, index, len(photos), graph)
            try:
                files = job.run(photo, args.out or photo.parent)
            except ExecutionFailed as exc:
                console.execution_error(exc.data, graph)
                failed.append(photo)
                code = EXIT_FAILED
                if args.keep_going:
                    continue
                break
            except PromptRejected as exc:
                console.prompt_rejected(exc.error, exc.node_errors, graph)
                failed.append(photo)
                code = EXIT_REJECTED
                break
            except ComfyError as exc:
                console.error(str(exc))
                failed.append(photo)
                code = _exit_code(exc)
                break
            except KeyboardInterrupt:
                console.error("stopped (Ctrl-C); this photo's prompt, if it was queued, was cancelled on the server")
                failed.append(photo)
                code = EXIT_CTRL_C
                break
            done.append(photo)
            if not files:
                console.write(f"{console.prefix} warning: the workflow saved no image (does it end in a SaveImage node?)")
            for path in files:
                print(path, flush=True)
    finally:
        events.close()
    _summary(console, photos, done, failed)
    return code


def _exit_code(exc: ComfyError) -> int:
    for kind, code in ((ServerUnreachable, EXIT_UNREACHABLE), (ExecutionInterrupted, EXIT_INTERRUPTED),
                       (RunTimeout, EXIT_TIMEOUT)):
        if isinstance(exc, kind):
            return code
    return EXIT_SERVER


def _summary(console: Console, photos: list[Path], done: list[Path], failed: list[Path]) -> None:
    """Which photos of a folder have their outputs, so a run that stopped half-way leaves nothing ambiguous."""
    if len(photos) == 1:
        return
    not_run = photos[len(done) + len(failed):]
    console.write(f"{len(done)} of {len(photos)} photo(s) done" + (f": {_names(done)}" if done and failed else ""))
    if failed:
        console.write(f"failed (no outputs written): {_names(failed)}")
    if not_run:
        console.write(f"not run: {_names(not_run)}")


def _names(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths)
