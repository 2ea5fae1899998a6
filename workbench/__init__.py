"""Evol-Instruct Workbench: the library behind the notebooks.

Notebooks in notebooks/ tell the story; the logic they call lives here, with tests.
"""

__version__ = "0.1.0"
