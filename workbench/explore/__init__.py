"""For people in JupyterLab: the evolution-tree explorer (00_explore) and its widgets,
curation marks, runs side by side (08_compare), and blind human rating of 07_evaluate's answers
(09_human_eval: human_eval.py the widget, human_ratings.py the ratings file and win / tie / loss,
agreement.py Krippendorff's alpha and the judge against the humans)."""
