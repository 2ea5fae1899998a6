"""02_evolve, the heart of the method: M rounds of evolve -> answer -> eliminate (loop.py), the
elimination rules beside their predicates (rules.py), the stage and its stats (stage.py)."""
