"""Generate the API-format copies of UI workflows: workflows/<name>.json -> workflows/api/<name>.json.

    python tools/export_api_workflows.py [FOLDER ...] [--check]

The conversion is the one the workflow checker uses (workflow_check/ui_graph.py, mirroring the frontend's
graphToPrompt), so API copies are generated, never hand-edited. --check writes nothing and exits 1 when a copy is
missing or stale (CI). Default folder: workflows/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORE_SCHEMAS = ROOT / "tests" / "data" / "core_object_info.json"
PEER_SCHEMAS = ROOT / "tests" / "data" / "peer_object_info"


def load_schemas():
    import facelab

    pack = facelab.load_pack()
    from comfyui_facelab.workflow_check import build_schemas

    return build_schemas(core_and_peer_schemas(), pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS)


def core_and_peer_schemas() -> dict:
    """Core's schemas plus the recorded real /object_info of other packs that shipped workflows wire
    (tests/data/peer_object_info/*.json, made by tools/record_peer_object_info.py)."""
    from comfyui_facelab.workflow_check.schema import load_object_info

    schemas = load_object_info(CORE_SCHEMAS)
    for path in sorted(PEER_SCHEMAS.glob("*.json")):
        schemas.update(load_object_info(path, source=path.stem))
    return schemas


def api_text(prompt: dict) -> str:
    return json.dumps(prompt, indent=2, ensure_ascii=False) + "\n"


def export_folder(folder: Path, schemas, check: bool) -> list[str]:
    """Problems (stale/missing copies in --check mode, conversion errors) for one folder."""
    from comfyui_facelab.workflow_check import errors, is_ui_workflow, ui_to_api

    problems = []
    for ui_path in sorted(folder.glob("*.json")):
        workflow = json.loads(ui_path.read_text(encoding="utf-8"))
        if not is_ui_workflow(workflow):
            problems.append(f"{ui_path}: not a UI workflow (API files belong in {folder / 'api'})")
            continue
        prompt, issues = ui_to_api(workflow, schemas)
        if errors(issues):
            problems += [f"{ui_path}: {issue}" for issue in errors(issues)]
            continue
        out = folder / "api" / ui_path.name
        text = api_text(prompt)
        if check:
            if not out.is_file() or out.read_text(encoding="utf-8") != text:
                problems.append(f"{out}: missing or out of date; run tools/export_api_workflows.py {folder}")
        else:
            out.parent.mkdir(exist_ok=True)
            out.write_text(text, encoding="utf-8")
            print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({len(prompt)} nodes)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[ROOT / "workflows"])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a copy is missing or stale")
    args = parser.parse_args(argv)
    schemas = load_schemas()
    problems = [p for folder in args.folders for p in export_folder(folder, schemas, args.check)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
