"""Getting files from outside: SID's archives (download, safe extraction, split lists) and the
perceptual metrics' pretrained weights, each verified by its sha256."""
