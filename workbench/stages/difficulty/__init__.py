"""04_difficulty: the LLM judge's 1-10 difficulty (judge.py), IFD (ifd.py), and the labelled
set the judge is validated on (labelled.py)."""
