"""Command line entry point: `python -m facelab <command>` from the pack folder
(or `python path/to/ComfyUI-FaceLab/facelab.py <command>`).

The pack folder is a ComfyUI custom node package whose folder name (e.g. ComfyUI-FaceLab) is not
a valid module name, so this loader imports it under the name `comfyui_facelab`, exactly as
ComfyUI imports it by path. Tests use the same loader.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
PACKAGE_NAME = "comfyui_facelab"


def load_pack():
    """Import the pack folder as the package `comfyui_facelab` (idempotent)."""
    if PACKAGE_NAME in sys.modules:
        return sys.modules[PACKAGE_NAME]
    spec = importlib.util.spec_from_file_location(
        PACKAGE_NAME, PACK_DIR / "__init__.py", submodule_search_locations=[str(PACK_DIR)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PACKAGE_NAME]
        raise
    return module


def load_light():
    """Register the pack and its `nodes` package WITHOUT running their __init__ (no node modules, no torch).

    The command line only needs a few plain modules (the HTTP client, the demo); importing every node
    module would cost seconds. Not for use in a process that also needs NODE_CLASS_MAPPINGS.
    """
    import types

    if PACKAGE_NAME in sys.modules:
        return sys.modules[PACKAGE_NAME]
    for name, path in ((PACKAGE_NAME, PACK_DIR), (f"{PACKAGE_NAME}.nodes", PACK_DIR / "nodes")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(path)]
        mod.__file__ = str(path / "__init__.py")
        mod.__package__ = name
        sys.modules[name] = mod
    return sys.modules[PACKAGE_NAME]


def main(argv: list[str] | None = None) -> int:
    load_light()
    from comfyui_facelab.cli import main as cli_main  # type: ignore[import-not-found]

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
