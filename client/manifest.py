"""The dispatcher's manifest: one JSON line per finished photo, next to the outputs (facelab_manifest.jsonl), so a
re-run of the same command skips what is done and a crash loses nothing that was finished.

A record: {"photo", "sha256" (of the photo), "settings" (hash of the prepared workflow and --input images),
"status" ("done" | "failed" | "skipped"), "server", "prompt_id", "outputs": [{"file", "sha256"}], "error",
"attempts", "seconds", "time"}. The last record of a photo wins. Records are appended with one write() each under a
lock and flushed to disk (fsync), and the file is compacted (latest record per photo) through a temporary file and
os.replace at the end of a run; a line torn by a crash or power loss is ignored on reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger("FaceLab")

MANIFEST_NAME = "facelab_manifest.jsonl"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def settings_hash(graph: dict, extra_images: dict[str, Path]) -> str:
    """What decides a photo's outputs besides the photo: the prepared workflow and the extra images' content."""
    extra = {node_id: file_sha256(path) for node_id, path in sorted(extra_images.items())}
    text = json.dumps({"graph": graph, "inputs": extra}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Manifest:
    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the manifest {self.path}: {exc}") from None
        torn = 0
        for line in lines:
            try:
                record = json.loads(line)
                self.records[str(record["photo"])] = record
            except (ValueError, KeyError, TypeError):
                torn += 1
        if torn:
            log.warning(
                "%s: ignored %d unreadable line(s) (an interrupted write); those photos are redone", self.path, torn
            )

    def is_done(self, photo: str, photo_hash: str, settings: str, out_dir: Path) -> bool:
        """Done before with the same photo content and settings, and every output still there, unchanged."""
        record = self.records.get(photo)
        if (
            not record
            or record.get("status") != "done"
            or record.get("sha256") != photo_hash
            or record.get("settings") != settings
        ):
            return False
        for out in record.get("outputs") or []:
            path = out_dir / str(out.get("file"))
            if not path.is_file() or file_sha256(path) != out.get("sha256"):
                return False
        return True

    def add(self, record: dict) -> None:
        record = {**record, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            self.records[record["photo"]] = record
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def compact(self) -> None:
        """Rewrite with the latest record per photo (temporary file + os.replace: never a half-written manifest)."""
        with self._lock:
            if not self.records:
                return
            temp = self.path.with_name(f".{self.path.name}.tmp")
            with open(temp, "w", encoding="utf-8") as fh:
                for photo in sorted(self.records):
                    fh.write(json.dumps(self.records[photo], sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, self.path)
