"""Training runs: spec, create, lifecycle, reporter, snapshot, execute."""
