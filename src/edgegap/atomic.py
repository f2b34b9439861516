"""Atomic outputs: a reader sees the old result or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgegap.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _writable(path: Path) -> Iterator[None]:
    """A folder that cannot be made or written is the user's to fix: one line, no trace."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            reason = f"{blocker} is a file, not a directory"
        elif isinstance(error, FileNotFoundError) and not path.parent.exists():
            reason = f"cannot create its folder {path.parent} ({reason})"
        elif isinstance(error, FileNotFoundError):  # /proc, and other folders of no files
            reason = f"{path.parent} takes no new files or folders ({reason})"
        raise UserError(f"cannot write {path}: {reason}") from None


def _expect(path: Path, directory: bool) -> None:
    """Refuse to replace a file with a directory or the reverse: that would lose the user's
    file (or folder) under the name they meant for output."""
    if directory and path.exists() and not path.is_dir():
        raise UserError(f"cannot write {path}: it is a file, and the output is a directory")
    if not directory and path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory, and the output is a file")


def write_text(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it into place."""
    _expect(path, directory=False)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not for results
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def file(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, for a writer that takes a path (an ONNX exporter),
    renamed into place only if the block completes."""
    _expect(path, directory=False)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    staging = Path(name)
    try:
        yield staging
        os.chmod(staging, 0o666 & ~_umask())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


@contextmanager
def directory(path: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only if the block completes."""
    _expect(path, directory=True)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
    except BaseException:  # an error, Ctrl-C or SIGTERM (the CLI raises it): nothing is left
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(staging, path)


def _swap(staging: Path, path: Path) -> None:
    """Put `staging` in place of `path`; interrupted half-way, the old `path` is put back."""
    if not path.exists():
        try:
            os.replace(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return
    retired = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
    old = retired / path.name
    try:
        os.replace(path, old)
        os.replace(staging, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
