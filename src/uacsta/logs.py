"""Logging: stdlib logging through a queue to a rotating file (JSON lines) and
the console, every record stamped with the phone MAC or client name it is about.

``log_tag`` is a context variable: the shell sets it while it handles one
connection's message, so every line logged below carries the tag without being
passed it, and the diagnostics MAC filter can keep or drop it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import queue
import time
from pathlib import Path

from .settings import Diagnostics

log_tag: contextvars.ContextVar[str] = contextvars.ContextVar("log_tag", default="")
# A client request's correlation ID, in every line logged while it is handled
# (and in the client's response), so that support can follow one request.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
LOG_NAME = "uacsta.log"


class TagFilter(logging.Filter):
    """Stamps ``record.tag``; drops phone records outside the MAC filter."""

    def __init__(self) -> None:
        super().__init__()
        self.macs: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        tag = getattr(record, "tag", None) or log_tag.get()
        record.tag = tag
        record.req = getattr(record, "req", None) or request_id.get()
        return not (self.macs and tag and tag not in self.macs and not tag.startswith("client:"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "tag": getattr(record, "tag", ""),
            "msg": record.getMessage(),
        }
        req = getattr(record, "req", "")
        if req:
            doc["req"] = req
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        tag = getattr(record, "tag", "")
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} "
        req = getattr(record, "req", "")
        base += f"[{tag}{' ' + req if req else ''}] " if tag or req else ""
        text = base + record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class LogManager:
    """Owns the handlers; :meth:`apply` takes new diagnostics settings at run time."""

    def __init__(
        self, default_folder: Path, console_level: str = "INFO", name: str = LOG_NAME
    ) -> None:
        self.default_folder = default_folder
        # The file's name in the folder: uacsta.log, or a worker's own (workers
        # of `serve --workers` other than the first: one writer per file, or
        # two processes would rotate the same file under each other).
        self.name = name
        self.filter = TagFilter()
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self.queue_handler = logging.handlers.QueueHandler(self._queue)
        self.queue_handler.addFilter(self.filter)
        self.console = logging.StreamHandler()
        self.console.setFormatter(ConsoleFormatter())
        self.console.setLevel(console_level.upper())
        self.file: logging.handlers.RotatingFileHandler | None = None
        self.listener: logging.handlers.QueueListener | None = None
        self.folder = default_folder

    @property
    def path(self) -> Path:
        """The file being written."""
        return self.folder / self.name

    @property
    def pending(self) -> int:
        """Records waiting for the writer thread."""
        return self._queue.qsize()

    def folder_for(self, diag: Diagnostics) -> Path:
        return Path(diag.log_folder).expanduser() if diag.log_folder else self.default_folder

    def apply(self, diag: Diagnostics) -> None:
        folder = self.folder_for(diag)
        folder.mkdir(parents=True, exist_ok=True)
        if self.listener:
            self.listener.stop()
        if self.file:
            self.file.close()
        self.folder = folder
        self.file = logging.handlers.RotatingFileHandler(
            folder / self.name,
            maxBytes=diag.max_file_size_mb * 1024 * 1024,
            backupCount=20,
            encoding="utf-8",
        )
        self.file.setFormatter(JsonFormatter())
        self.filter.macs = frozenset(diag.mac_filter)
        root = logging.getLogger("uacsta")
        root.setLevel(diag.log_level)
        root.propagate = False
        if self.queue_handler not in root.handlers:
            root.addHandler(self.queue_handler)
        # An unexpected error in an HTTP face is logged by uvicorn ("Exception
        # in ASGI application", with its traceback): into the same log file.
        web = logging.getLogger("uvicorn.error")
        web.setLevel(logging.WARNING)
        web.propagate = False
        if self.queue_handler not in web.handlers:
            web.addHandler(self.queue_handler)
        self.listener = logging.handlers.QueueListener(
            self._queue, self.file, self.console, respect_handler_level=True
        )
        self.listener.start()

    def delete_files(self) -> int:
        """Delete the rotated log files and empty the current one (daily deletion)."""
        count = 0
        for path in self.folder.glob(self.name + ".*"):
            path.unlink(missing_ok=True)
            count += 1
        if self.file:
            self.file.acquire()
            try:
                if self.file.stream:
                    self.file.stream.seek(0)
                    self.file.stream.truncate()
            finally:
                self.file.release()
        return count

    def stop(self) -> None:
        if self.listener:
            self.listener.stop()
            self.listener = None
        if self.file:
            self.file.close()
            self.file = None
        logging.getLogger("uacsta").removeHandler(self.queue_handler)
        logging.getLogger("uvicorn.error").removeHandler(self.queue_handler)


def check_writable(folder: Path) -> str | None:
    """Why the log folder cannot be used, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("x")
        probe.unlink()
    except OSError as exc:
        return f"log folder {folder} is not writable: {exc.strerror}"
    return None


class OncePer:
    """Log a refusal once per key (a source address) and interval, with how
    many were left unlogged: a flood must not rotate the log history away."""

    def __init__(self, interval: float = 60.0, max_keys: int = 10000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, key: str, now: float) -> int | None:
        """None: say nothing now; else say it, with this many suppressed since."""
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return None
        if len(self._last) >= self.max_keys:
            self._last.clear()
        self._last[key] = (now, 0)
        return last[1] if last is not None else 0
