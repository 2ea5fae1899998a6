"""For people in JupyterLab: the evolution-tree explorer (00_explore) and its widgets,
curation marks, and runs side by side (08_compare)."""
