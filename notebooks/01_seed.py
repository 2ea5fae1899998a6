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
# # 01 · Seed
#
# Evol-Instruct starts from seed instructions. This stage reads them from the bundled set
# (written for this project, 100+ instructions over 20 skills) or from your own files —
# JSON/JSONL, CSV or a `datasets` folder in whatever shape they were published (Alpaca,
# Self-Instruct, ShareGPT, OpenAI messages, Dolly), mapped by field names that may be dotted
# paths (`instances.0.input`; see "Bringing your own data" in the README). It normalises
# whitespace, drops seeds by the seed rules (`rules` lists the switchable ones; empty,
# duplicate and non-text seeds are always dropped), each with its reason in `dropped.jsonl`,
# and samples `n` with the run seed. Every row is accounted for: kept + dropped + skipped
# lines = rows in; a field missing from some rows is counted, and a file that keeps no seed
# is an error.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
source = "bundled"  # "bundled", a .jsonl/.json/.csv file, a saved datasets folder, or a hub name
format = "auto"  # how to read the source {auto|alpaca|sharegpt|jsonl|json|csv|datasets}
instruction_field = "instruction"  # field holding the instruction (dotted path, e.g. conversations.0.value)
input_field = "input"  # field holding the optional input (e.g. instances.0.input, context); "" for none
output_field = "output"  # field holding a reference answer, if any (e.g. instances.0.output, response)
conversations_field = "conversations"  # ShareGPT/messages list: first human turn is the instruction, next reply the answer
id_field = ""  # field holding the file's own id, kept on each record as source_id; "" for none
split = "train"  # split of a datasets folder or hub dataset
n = 0  # sample this many seeds with the run seed; 0 means all [min 0]
max_chars = 20000  # the too_long rule drops seeds with more characters than this (instruction + input) [>0]
rules = ["too_long", "template_marker"]  # switchable seed rules applied (workbench rules lists them); empty, duplicate, non-text and unreadable rows are always dropped
on_bad_line = "fail"  # malformed line: stop naming file and line, or skip and count it {fail|skip}
source_name = ""  # seed set name for dataset cards; empty: the bundled set's name, or "unknown" for other sources
license = ""  # license of the seed set for dataset cards; empty: Apache-2.0 for the bundled set, else "unknown"

# %%
import plotly.express as px

from workbench.stages.base import open_stage
from workbench.stages.seed.stage import Config, run

st = open_stage(run_dir, "01_seed")
res = run(st, Config.from_namespace(globals()))
{k: res.stats[k] for k in ("source", "rows_in", "kept", "dropped", "dropped_by_reason", "skipped_lines", "rules")}

# %% [markdown]
# ## Seeds by skill
# The bundled set spreads over 20 skills; look for a skill that sampling (`n`) left with one or
# no seed, or, for your own file, a single `unlabelled` bar (the file has no `skill` field).

# %%
skills = res.stats["skills"]
st.figure(px.bar(x=list(skills), y=list(skills.values()), labels={"x": "skill", "y": "seeds"},
                 title=f"{res.stats['kept']} seeds by skill"), "skills")
