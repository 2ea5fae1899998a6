"""Getting a run out: export formats and their dataset card, trainer configs, preference pairs."""
