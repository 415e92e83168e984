"""The data layer's archive error, shared by the archive and pickle readers (a ``ValueError``, so the CLI
prints it as one line and exits 2)."""

from __future__ import annotations

__all__ = ["UnsafeArchiveError"]


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder, is a link or device, expands beyond the caps of
    ``ArchiveLimits``, or a pickle asks for code."""
