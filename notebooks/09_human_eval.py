# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (workbench)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Human evaluation, blind
#
# Interactive only (the pipeline never runs this notebook). The paper's primary evidence is
# people rating answers, not a judge: here a rater scores the candidates' answers to each item
# of the run's 07_evaluate on a 1–5 scale, without knowing which candidate wrote which.
#
# One item at a time: the question (for a multi-turn item the whole conversation; each answer
# carries its own earlier replies, folded), then the answers as "Answer 1", "Answer 2", … in
# an order shuffled for you and this item. Give each answer a score from 1 (poor) to 5
# (excellent), or *skip* one you cannot judge (it is saved as no score, never as a 1); an
# answer the candidate never gave shows as "no answer". Add a note if you like and save.
#
# Type your name under *rater* (or set it below) and press *start*. Ratings are appended to
# `<run>/07_evaluate/human_ratings.jsonl`; opening this notebook again with the same name
# continues at the first item you have not saved. *previous* / *next* go back to re-rate:
# the last save counts. Results (win / tie / loss per pair, agreement between raters and with
# the judge) are in 08_compare, not here, so that rating stays blind.

# %% tags=["parameters"]
run_dir = ""  # run folder whose 07_evaluate answers are rated; empty means the latest run
rater = ""  # your name; ratings are kept per rater, and the same name continues where it stopped

# %%
from workbench.explore import human_eval as HE

ui = HE.rating_ui(run_dir, HE.Config.from_namespace(globals()))
ui.show()
