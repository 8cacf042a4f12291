"""How a job runs, never what it computes: the device, stop signals and requeue, the runtime
settings."""
