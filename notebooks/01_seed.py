# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Seed
#
# Evol-Instruct starts from seed instructions. This stage reads them from the bundled set
# (written for this project, 100+ instructions over 20 skills) or from your own files —
# Alpaca JSON/JSONL, ShareGPT conversations, CSV, or a `datasets` folder — normalises
# whitespace, drops empty, over-long and duplicate seeds with a reason, and samples `n` with
# the run seed. Every row is accounted for: kept + dropped + skipped lines = rows in.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
source = "bundled"  # "bundled", a .jsonl/.json/.csv file, a saved datasets folder, or a hub name
format = "auto"  # how to read the source {auto|alpaca|sharegpt|csv|datasets}
instruction_field = "instruction"  # field holding the instruction
input_field = "input"  # field holding the optional input
output_field = "output"  # field holding a reference answer, if any
conversations_field = "conversations"  # ShareGPT field; the first human turn is the instruction
split = "train"  # split of a datasets folder or hub dataset
n = 0  # sample this many seeds with the run seed; 0 means all [min 0]
max_chars = 20000  # drop seeds longer than this (instruction + input) [>0]
on_bad_line = "fail"  # malformed line: stop naming file and line, or skip and count it {fail|skip}
source_name = "bundled Evol-Instruct Workbench seeds"  # seed set name for dataset cards
license = "Apache-2.0"  # license of the seed set, for dataset cards

# %%
from collections import Counter

import plotly.express as px

from workbench.io import write_jsonl
from workbench.seeds import FieldMap, load_seeds
from workbench.stage import open_stage

st = open_stage(run_dir, "01_seed")
cap = min(x for x in (n, st.limit, 10**12) if x > 0)
fields = FieldMap(instruction_field, input_field, output_field, conversations_field)
loaded = load_seeds(source, format, fields, n=cap if cap < 10**12 else 0, seed=st.run["seed"],
                    on_bad_line=on_bad_line, split=split, max_chars=max_chars)

# %% [markdown]
# ## What came in, what was kept

# %%
stats = loaded.stats()
stats["with_input"] = sum(1 for r in loaded.records if r["input"])
stats["with_response"] = sum(1 for r in loaded.records if r["response"])
stats["source_name"], stats["license"] = source_name, license  # read by `workbench export`
stats["skills"] = dict(Counter(r.get("skill", "unlabelled") for r in loaded.records).most_common())
write_jsonl(st.path("records.jsonl"), loaded.records)
write_jsonl(st.path("dropped.jsonl"), loaded.dropped)
st.write_stats(stats)
{k: v for k, v in stats.items() if k != "skipped_line_details"}

# %%
skills = Counter(r.get("skill", "unlabelled") for r in loaded.records)
fig = px.bar(x=list(skills), y=list(skills.values()), labels={"x": "skill", "y": "seeds"},
             title=f"{len(loaded.records)} seeds by skill")
fig.write_html(st.figures_dir() / "skills.html", include_plotlyjs="cdn")
fig.show()
