"""An upload deleted before it ran: S3 keeps it as a noncurrent version behind a delete marker, and the marker's
event tells bbq. The newest upload of the key from before the marker (S3's sequencer says which), if none of it
has gone into a job yet, is cancelled: its parts leave the queue, and it ends Stopped saying why. Work that
already went to Bedrock runs on (its results are kept); a later upload of the key is its own file."""

import logging

from bbq.core.model.clock import Clock
from bbq.core.model.file_updates import update_file
from bbq.core.model.files import FileStatus, InputFile, PartStatus, newest_upload
from bbq.core.model.naming import sequencer_order
from bbq.core.model.ports import Files, JoinRequests, ObjectRef
from bbq.core.settling.progress import update_files

log = logging.getLogger(__name__)


def cancel_deleted(marker: ObjectRef, *, store: Files, clock: Clock, joins: JoinRequests) -> str | None:
    """The file id cancelled, or None: no such upload, or some of it already ran."""
    earlier = [upload for upload in store.uploads_of(marker.bucket, marker.key) if _before(upload, marker)]
    target = newest_upload(earlier)
    if target is None or target.status != FileStatus.QUEUED:
        return None
    parts = store.parts_of(target)
    if any(part.status != PartStatus.WAITING for part in parts):
        log.info("deleted upload had started; it runs on", extra={"file_id": target.file_id})
        return None
    message = (
        f"Cancelled: the upload was deleted (a delete marker at {clock.now():%Y-%m-%d %H:%M:%S} UTC) before it ran; "
        "nothing of it ran or was billed. Upload it again to run it."
    )

    def flagged(file: InputFile) -> InputFile | None:
        if file.stop_requested or file.status != FileStatus.QUEUED:
            return None
        return file.with_changes(stop_requested=True, message=message, updated_at=clock.now())

    if update_file(store, target.file_id, flagged) is None:
        return None
    stopped = [
        part.with_changes(status=PartStatus.STOPPED, message=message)
        for part in parts
        if store.save_part(part.with_changes(status=PartStatus.STOPPED, message=message), expected=PartStatus.WAITING)
    ]
    update_files(store, clock, stopped, joins)
    log.warning("upload deleted before it ran: cancelled", extra={"file_id": target.file_id, "key": marker.key})
    return target.file_id


def _before(upload: InputFile, marker: ObjectRef) -> bool:
    """Whether the upload came before the marker: by S3's sequencer for the key when both have one."""
    if upload.sequencer and marker.sequencer:
        return sequencer_order(upload.sequencer) < sequencer_order(marker.sequencer)
    return True  # no order to go by: the marker hides whatever was current, the newest upload
