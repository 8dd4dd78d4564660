"""Progress for long work (indexing): a tqdm-style bar on a terminal or in a notebook, and an
optional callback that receives every update.

``progress=None`` (the default) shows the bar when standard error is a terminal or the code runs
in a Jupyter kernel; ``True`` always shows it, ``False`` never does.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, Optional

ProgressCallback = Callable[[Dict[str, Any]], None]

__all__ = ["ProgressCallback", "Reporter"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()  # type: ignore[attr-defined]
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class _TerminalBar:
    """``label  42%|████▏     | 420/1000 [00:03<00:04, 131.2 img/s]`` redrawn in place on stderr."""

    def __init__(self, label: str, stream: Any) -> None:
        self.label = label
        self.stream = stream
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.drawn: Any = None  # (done, total, failed) of the line on screen

    def update(self, counts: Dict[str, Any], final: bool = False) -> None:
        now = time.monotonic()
        state = (counts["done"], counts["total"], counts.get("failed", 0))
        if final and state == self.drawn:  # the last update already drew the finished bar
            self.stream.write("\n")
            self.stream.flush()
            return
        if not final and now - self.last_draw < 0.1 and state[0] != state[1]:
            return
        self.last_draw = now
        self.drawn = state
        done, total = counts["done"], counts["total"]
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        if total and counts.get("discovery_done", True):
            fraction = min(done / total, 1.0)
            width = 24
            filled = int(fraction * width * 8)
            full, part = divmod(filled, 8)
            bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if full < width else "")
            bar = bar.ljust(width)
            eta = (total - done) / rate if rate > 0 else 0.0
            line = (f"{self.label} {fraction * 100:3.0f}%|{bar}| {done}/{total} "
                    f"[{_format_seconds(elapsed)}<{_format_seconds(eta)}, {rate:.1f} img/s]")
        else:
            line = f"{self.label} {done} [{_format_seconds(elapsed)}, {rate:.1f} img/s]"
        if counts.get("failed"):
            line += f" {counts['failed']} failed"
        self.stream.write("\r" + line)
        if final:
            self.stream.write("\n")
        self.stream.flush()


class _NotebookBar:
    def __init__(self, label: str) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-not-found]

        self.bar = tqdm(desc=label, unit="img")

    def update(self, counts: Dict[str, Any], final: bool = False) -> None:
        self.bar.total = counts["total"]
        self.bar.n = counts["done"]
        self.bar.refresh()
        if final:
            self.bar.close()


class Reporter:
    """Passes each update to the bar (if shown) and to the user's callback (if given)."""

    def __init__(self, label: str, progress: Optional[bool],
                 callback: Optional[ProgressCallback]) -> None:
        self.callback = callback
        self.bar: Any = None
        show = progress
        if show is None:
            show = _in_notebook() or bool(getattr(sys.stderr, "isatty", lambda: False)())
        if show:
            if _in_notebook():
                try:
                    self.bar = _NotebookBar(label)
                except ImportError:
                    self.bar = _TerminalBar(label, sys.stderr)
            else:
                self.bar = _TerminalBar(label, sys.stderr)
        self.last: Optional[Dict[str, Any]] = None

    @property
    def active(self) -> bool:
        return self.bar is not None or self.callback is not None

    def __call__(self, counts: Dict[str, Any]) -> None:
        self.last = counts
        if self.bar is not None:
            self.bar.update(counts)
        if self.callback is not None:
            self.callback(counts)

    def finish(self, report: Dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(report, final=True)
