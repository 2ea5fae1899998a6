"""03_filter: post-hoc cleaning rules (rules.py) and their machinery: MinHash near duplicates,
n-gram decontamination (filters.py)."""
