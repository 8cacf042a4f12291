"""Training one variant: the loop, one optimisation step, the device-side data feed, the
losses and the curves."""
