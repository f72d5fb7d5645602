"""Changing a file item without overwriting anyone: read it, decide the change from what was read, save it on
the revision read, and on a conflict (a user's stop, a sibling run) read it again and decide again."""

import logging
from collections.abc import Callable

from bbq.core.model.files import InputFile
from bbq.core.model.ports import Files

log = logging.getLogger(__name__)

# Writers of one file are a few runs and a person: a handful of tries always suffices; past it the caller's next
# run (or the person's next command) tries again.
ATTEMPTS = 8


def update_file(store: Files, file_id: str, change: Callable[[InputFile], InputFile | None]) -> InputFile | None:
    """The file as saved; None when it does not exist, ``change`` wanted nothing, or every try lost a race."""
    for _ in range(ATTEMPTS):
        file = store.get_file(file_id)
        if file is None:
            return None
        changed = change(file)
        if changed is None:
            return None
        if store.save_file(changed):
            return changed.with_changes(revision=changed.revision + 1)
    log.warning("file kept changing under this writer; the next run tries again", extra={"file_id": file_id})
    return None
