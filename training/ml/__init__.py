"""The learning core: pure PyTorch and numpy, no Django, so workers, tests and the CLI share it."""
