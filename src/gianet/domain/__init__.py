"""The project's domain facts, each stated once: the colour-filter arrays and cameras
(:mod:`.cameras`) and the metrics (:mod:`.metrics`). Nothing here imports torch, so the
configuration, the command line and the report read these tables without loading it."""
