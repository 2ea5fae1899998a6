"""01_seed: seeds from the bundled set or a user's files (loaders.py), the seed rules (rules.py)."""
