"""One package per pipeline stage, siblings that never import each other. Each holds stage.py
(its Config, whose fields are its notebook's parameters, and run()), its logic, and its rules.py
where it drops rows. base.py is what every stage gets: its run folder by role, generators,
figures, stats."""
