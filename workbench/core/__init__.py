"""What every stage shares: the stage table, the run folder, the Config base, records, io,
tables and field mapping, statistics, templates and packs, plots, progress, the rule registry.
Nothing here imports a stage, the pipeline or the command line."""
