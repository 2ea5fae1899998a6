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
# JSON/JSONL, CSV or a `datasets` folder in whatever shape they were published (Alpaca,
# Self-Instruct, ShareGPT, OpenAI messages, Dolly), mapped by field names that may be dotted
# paths (`instances.0.input`; see "Bringing your own data" in the README). It normalises
# whitespace, drops empty, over-long, duplicate and non-text seeds with a reason, and samples
# `n` with the run seed. Every row is accounted for: kept + dropped + skipped lines = rows in;
# a field missing from some rows is counted, and a file that keeps no seed is an error.

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
max_chars = 20000  # drop seeds longer than this (instruction + input) [>0]
on_bad_line = "fail"  # malformed line: stop naming file and line, or skip and count it {fail|skip}
source_name = ""  # seed set name for dataset cards; empty: the bundled set's name, or "unknown" for other sources
license = ""  # license of the seed set for dataset cards; empty: Apache-2.0 for the bundled set, else "unknown"

# %%
from collections import Counter

import plotly.express as px

from workbench.io import write_jsonl
from workbench.seeds import FieldMap, load_seeds, provenance
from workbench.stage import open_stage

st = open_stage(run_dir, "01_seed")
cap = min(x for x in (n, st.limit, 10**12) if x > 0)
fields = FieldMap(instruction_field, input_field, output_field, conversations_field, id_field)
loaded = load_seeds(source, format, fields, n=cap if cap < 10**12 else 0, seed=st.run["seed"],
                    on_bad_line=on_bad_line, split=split, max_chars=max_chars)

# %% [markdown]
# ## What came in, what was kept

# %%
stats = loaded.stats()
stats["with_input"] = sum(1 for r in loaded.records if r["input"])
stats["with_response"] = sum(1 for r in loaded.records if r["response"])
stats["source_name"], stats["license"], stats["provenance_warning"] = provenance(source, source_name, license)
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
