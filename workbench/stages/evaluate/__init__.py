"""07_evaluate: candidates answer the eval set (eval_sets.py); the judge compares them pairwise
and scores them (pairwise.py); verifiable checks (checks.py, IFEval's types in ifeval.py)."""
