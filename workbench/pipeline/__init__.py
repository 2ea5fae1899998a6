"""Running the notebooks: params validation, notebook parameters, creating runs (runs.py),
executing stages (runner.py), the run lock, the kernel, sweeps and the lab."""
