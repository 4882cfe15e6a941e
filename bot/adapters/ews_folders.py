"""A folder of an Exchange mailbox found by name among the direct sub-folders of another (FindFolder)."""

from __future__ import annotations

from typing import Any

from exchangelib.folders import FolderCollection
from exchangelib.queryset import Q


def child_folder(parent: Any, name: str) -> Any | None:
    """The direct sub-folder of ``parent`` called ``name`` (FindFolder, shallow), or None."""
    wanted = name.casefold()
    for found in FolderCollection(account=parent.account, folders=[parent]).find_folders(
        q=Q(name=name), depth="Shallow"
    ):
        if isinstance(found, Exception):
            raise found
        if (found.name or "").casefold() == wanted:
            return found
    return None
