"""Words two rooms write into a file's message: ingest says it of a small file, and the file's status drops it
once the file's records are in a job. Here, so that neither room imports the other for it."""

PACKING_NOTE = "waiting to be packed with other uploads for the same model"
