"""Check workflow files (UI or API format) the way CI does, without ComfyUI.

    python tools/check_workflows.py [PATH ...] [--object-info FILE_OR_URL] [--notes]

PATH: workflow files or folders (a folder is checked with its api/ copies; default: workflows/). Core node
schemas come from tests/data/core_object_info.json, or from --object-info (a saved /object_info JSON or a running
server's http://127.0.0.1:8188/object_info, to check against the nodes and models of that installation).
Exit status 1 when any error is found.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from export_api_workflows import CORE_SCHEMAS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "workflows"])
    parser.add_argument("--object-info", help="object_info JSON file or URL (default: the committed 0.33 fixture)")
    parser.add_argument("--notes", action="store_true", help="also print notes (environment-specific files)")
    args = parser.parse_args(argv)

    import facelab

    pack = facelab.load_pack()
    from comfyui_facelab import workflow_check as wc
    from comfyui_facelab.workflow_check.schema import object_info_schemas

    core = args.object_info or CORE_SCHEMAS
    if str(core).startswith(("http://", "https://")):
        with urllib.request.urlopen(core, timeout=120) as resp:
            core = object_info_schemas(json.loads(resp.read()))
    schemas = wc.build_schemas(core, pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS)

    report: dict[str, list] = {}
    for path in args.paths:
        report.update(
            wc.validate_folder(path, schemas) if path.is_dir() else {str(path): wc.validate_file(path, schemas)}
        )
    n_errors = 0
    for path, issues in report.items():
        errors = wc.errors(issues)
        n_errors += len(errors)
        print(f"{path}: {f'{len(errors)} error(s)' if errors else 'OK'}")
        for issue in issues if args.notes else errors:
            print(f"  {issue}")
    return 1 if n_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
