"""`python -m facelab <command>`: standalone commands (no ComfyUI needed unless the command talks to one).

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging

COMMANDS = {
    "demo": (".demo", "detect faces on a photo, write zone masks and an annotated preview (no ComfyUI, no SDXL)"),
    "queue": ("..client.cli", "queue a shipped workflow on a running ComfyUI server over HTTP"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facelab", description="ComfyUI-FaceLab command line")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (mod_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            mod = importlib.import_module(mod_name, __package__)
        except ImportError as exc:
            p.set_defaults(_import_error=exc)
            continue
        mod.add_arguments(p)
        modules[name] = mod
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    if getattr(args, "_import_error", None) is not None:
        parser.error(f"command {args.command!r} is unavailable: {args._import_error}")
    return int(modules[args.command].run(args) or 0)
