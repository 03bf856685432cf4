"""Training jobs: the job file, its persisted state, and the runner that drives the platform."""
