"""What the dispatcher tells the user: progress for the whole set (done/total, rate, ETA) and one line per photo
event on stderr (a rewritten status line on a terminal), or JSON-lines events on stdout with --json; then a
summary per photo and per server."""

from __future__ import annotations

import json
import sys
import threading
import time

from .console import Console


class Progress:
    def __init__(self, console: Console, json_out: bool = False):
        self.console, self.json_out = console, json_out
        self.total = self.done = self.failed = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._quarters: dict[str, int] = {}

    def start(self, total: int, already: int, skipped: int) -> None:
        self.total, self.started = total, time.monotonic()
        self.event("start", total=total, already_done=already, skipped=skipped)

    def rate(self) -> tuple[float, float | None]:
        """Photos per minute so far, and the seconds left at that rate (None before the first photo)."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        per_minute = self.done * 60.0 / elapsed
        left = self.total - self.done - self.failed
        return per_minute, (left * 60.0 / per_minute if per_minute else None)

    def step(self, photo: str, server: str, value: int, maximum: int) -> None:
        """A prompt's sampler progress: every step with --json or on a terminal, else each quarter (a log gets 5
        lines a photo)."""
        if maximum <= 0:
            return
        quarter = value * 4 // maximum
        with self._lock:
            if not (self.json_out or self.console.live) and self._quarters.get(photo) == quarter:
                return
            self._quarters[photo] = quarter
        self.event("step", photo=photo, server=server, value=value, max=maximum)

    def event(self, kind: str, **fields) -> None:
        with self._lock:
            self.done += kind == "done"
            self.failed += kind == "failed"
            per_minute, eta = self.rate()
            if self.json_out:
                record = {
                    "event": kind,
                    **fields,
                    "done": self.done,
                    "failed": self.failed,
                    "total": self.total,
                    "photos_per_minute": round(per_minute, 2),
                    "eta_s": None if eta is None else round(eta, 1),
                }
                print(json.dumps(record), flush=True)
                return
            line = self._line(kind, fields, per_minute, eta)
            if kind == "step" and self.console.live:  # a terminal: one status line, rewritten in place
                self.console.status(line)
            else:
                self.console.write(line)
            if kind == "done":
                for path in fields.get("files") or []:
                    print(path, file=sys.stdout, flush=True)  # stdout: the written files, as with one server

    def _line(self, kind: str, f: dict, per_minute: float, eta: float | None) -> str:
        head = f"[{self.done}/{self.total} done" + (f", {self.failed} failed" if self.failed else "") + "] "
        head = head if self.total else ""
        where = f" on {f['server']}" if f.get("server") else ""
        text = {
            "start": f"{f.get('total')} photo(s) to run"
            + (f", {f.get('already_done')} already done (manifest)" if f.get("already_done") else "")
            + (f", {f.get('skipped')} skipped" if f.get("skipped") else ""),
            "started": f"{f.get('photo')}: started{where}"
            + (f" (attempt {f['attempt']})" if f.get("attempt", 1) > 1 else ""),
            "done": f"{f.get('photo')}: done{where} in {f.get('seconds', 0):.1f} s",
            "retry": f"{f.get('photo')}: failed{where} ({f.get('error')}); re-queued",
            "failed": f"{f.get('photo')}: FAILED ({f.get('error')})",
            "skipped": f"skipped: {f.get('error')}",
            "server_dropped": f"server {f.get('server')} dropped: {f.get('error')}",
            "cancelled": f"cancelled prompt {f.get('prompt_id')}{where}",
            "step": f"{f.get('photo')}: step {f.get('value')}/{f.get('max')}{where}",
        }.get(kind, f"{kind} {f}")
        if kind in ("done", "failed") and self.total:
            text += f"; {per_minute:.1f} photos/min" + (f", ETA {_duration(eta)}" if eta is not None else "")
        return head + text


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def summary(
    progress: Progress, results: dict[str, str], already: list[str], skipped: dict[str, str], servers: list, manifest
) -> None:
    done = sorted(n for n, s in results.items() if s == "done")
    failed = sorted(n for n, s in results.items() if s == "failed")
    per_server = [
        {"server": s.name, "done": s.done, "faults": s.faults, "busy_s": round(s.busy, 2), "dropped": s.dropped or None}
        for s in servers
    ]
    if progress.json_out:
        print(
            json.dumps(
                {
                    "event": "summary",
                    "done": done,
                    "failed": failed,
                    "already_done": sorted(already),
                    "skipped": sorted(skipped),
                    "servers": per_server,
                    "manifest": str(manifest.path),
                }
            ),
            flush=True,
        )
        return
    write = progress.console.write
    write(
        f"summary: {len(done)} done, {len(failed)} failed, {len(skipped)} skipped, {len(already)} already done "
        f"(manifest {manifest.path})"
    )
    for name in failed:
        write(f"  failed: {name}: {manifest.records.get(name, {}).get('error', '')}")
    for reason in skipped.values():
        write(f"  skipped: {reason}")
    for s in per_server:
        write(
            f"  server {s['server']}: {s['done']} done, {s['faults']} fault(s), {s['busy_s']:.1f} s busy"
            + (f", dropped ({s['dropped']})" if s["dropped"] else "")
        )
