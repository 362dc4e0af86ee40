"""The `queue` command's arguments and what they turn into: the prepared workflow, the photos, the servers."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from . import workflow_inputs as wi
from .api import DEFAULT_SERVER, redact

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "workflow",
        type=Path,
        help="workflow in ComfyUI's API format (workflows/api/*.json, or Workflow > Export (API) in ComfyUI)",
    )
    parser.add_argument(
        "--image",
        type=Path,
        metavar="PHOTO_OR_FOLDER",
        help="a photo, or a folder whose photos are run one after the other (required unless --list-inputs)",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="TITLE=PATH",
        help="upload PATH into the image loader with this title, the same for every photo, e.g. "
        '--input "Makeup Reference=ref.jpg" (repeatable)',
    )
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="URL",
        help=f"ComfyUI server URL (default: $COMFYUI_URL or {DEFAULT_SERVER}); give it several times "
        "to spread a folder over several servers. user:password@ in the URL is sent as basic auth",
    )
    parser.add_argument(
        "--servers-file",
        type=Path,
        metavar="FILE",
        help="a file with one server URL per line (# comments), added to --server",
    )
    parser.add_argument(
        "--per-server",
        type=int,
        default=1,
        metavar="N",
        help="prompts in flight per server with several servers (default 1)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="with several servers: times a photo is re-queued after a server fault (default 2)",
    )
    parser.add_argument("--json", action="store_true", help="with several servers: JSON-lines events on stdout")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TITLE.INPUT=VALUE",
        help='set an input of the node(s) with this title, e.g. --set "Sampler.steps=30" (repeatable)',
    )
    parser.add_argument("--seed", type=int, help='seed of the node titled "Seed" (else the "Sampler")')
    parser.add_argument("--strength", type=float, help='edit strength: node "Strength" (else the "Sampler" denoise)')
    parser.add_argument(
        "--checkpoint",
        metavar="NAME",
        help="ckpt_name of every checkpoint loader (CheckpointLoaderSimple, ...), a file in ComfyUI/models/checkpoints",
    )
    parser.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="steps of every sampler and scheduler (KSampler, BasicScheduler, Aging Zone Conditioning ...)",
    )
    parser.add_argument("--denoise", type=float, metavar="X", help="denoise of every KSampler")
    parser.add_argument(
        "--zone-scores",
        metavar="JSON",
        help='scores for the node titled "Zone Scores" (zone groups '
        'set its sliders, single sides its side_overrides), e.g. \'{"forehead": 0.6, "crows_feet_left": 0.3}\'',
    )
    parser.add_argument("--prompt", metavar="TEXT", help='text of the node titled "Positive Prompt"')
    parser.add_argument("--negative", metavar="TEXT", help='text of the node titled "Negative Prompt"')
    parser.add_argument(
        "--list-inputs",
        action="store_true",
        help="print the workflow's settable inputs and the options that set them, then exit",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: next to each input)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="seconds one photo may take from its upload to its last download, a request that "
        "hangs included; then its prompt is cancelled (default 1800)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to wait for a connection, and for the server's first answer (default 5)",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="after a photo fails in a node, go on with the next photos of the folder",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="when ComfyUI reports node errors but queues the outputs that validated, run those "
        "(default: the run is refused, exit 4)",
    )


def load_workflow(path: Path) -> dict:
    try:
        return wi.check_api_workflow(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ValueError(f"cannot read the workflow {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (UTF-8) file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path} is JSON nested too deeply to be a workflow") from None


def prepare_workflow(args: argparse.Namespace) -> tuple[dict, str, dict[str, Path]]:
    """Load the API workflow and apply every option except the photo; return it, the photo loader's id and the
    extra images (loader id -> file, from --input)."""
    graph = load_workflow(args.workflow)
    for text in args.set:
        wi.set_input(graph, *wi.parse_assignment(text))
    options = {"seed": args.seed, "strength": args.strength, "prompt": args.prompt, "negative": args.negative}
    for option, value in options.items():
        if value is not None:
            wi.apply_convention(graph, option, value)
    for option in wi.TYPE_OPTIONS:
        if (value := getattr(args, option)) is not None:
            wi.apply_by_type(graph, option, value)
    if args.zone_scores is not None:
        wi.apply_zone_scores(graph, wi.parse_zone_scores(args.zone_scores))
    loader = wi.image_loader(graph)
    extra: dict[str, Path] = {}
    for text in args.input:
        node_id, path = wi.parse_image_input(graph, text)
        if node_id == loader:
            raise ValueError(f"--input {text!r}: that loader receives --image")
        if not Path(path).is_file():
            raise ValueError(f"--input {text!r}: no such file {path!r}")
        extra[node_id] = Path(path)
    return graph, loader, extra


def collect_images(path: Path, graph: dict, out_dir: Path | None) -> list[Path]:
    """The photo, or the photos of a folder (sorted, not recursive). In a folder that also receives the outputs,
    files named like this workflow's outputs of another photo there (<stem>_<node title>_<n>) are skipped."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"--image {str(path)!r}: no such file or folder")
    photos = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if out_dir is None or out_dir.resolve() == path.resolve():
        labels = "|".join(sorted({re.escape(wi.file_label(graph, nid)) for nid in graph}, key=len, reverse=True))
        pattern = re.compile(rf"^(?P<stem>.+)_(?:{labels})_\d+$")
        stems = {p.stem for p in photos}
        photos = [p for p in photos if not ((m := pattern.match(p.stem)) and m["stem"] in stems)]
    if not photos:
        raise ValueError(f"--image {str(path)!r}: the folder has no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    by_stem: dict[str, str] = {}
    for photo in photos:  # outputs are named after the stem: a.jpg and a.png would overwrite each other's
        if (other := by_stem.setdefault(photo.stem, photo.name)) != photo.name:
            raise ValueError(
                f"--image {str(path)!r}: {other} and {photo.name} would write the same output files "
                f"({photo.stem}_<title>_<n>); rename one"
            )
    return photos


def server_urls(args: argparse.Namespace) -> list[str]:
    """--server (repeatable) + --servers-file, else $COMFYUI_URL or the default. Duplicates are refused: two
    workers on one server would only queue behind each other (use --per-server)."""
    urls = list(args.server)
    if args.servers_file is not None:
        try:
            lines = args.servers_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read --servers-file {str(args.servers_file)!r}: {exc}") from None
        urls += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    if not urls:
        urls = [os.environ.get("COMFYUI_URL") or DEFAULT_SERVER]
    seen: dict[str, str] = {}
    for url in urls:
        key = normalise_url(url)
        if key in seen:
            raise ValueError(
                f"server {redact(url)} is given twice (as {redact(seen[key])}); use --per-server N to "
                "keep several prompts in flight on one server"
            )
        seen[key] = url
    return urls


def normalise_url(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower()
    host = "127.0.0.1" if host in ("localhost", "::1") else host
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = parts.netloc
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"
