# %% [markdown]
# # Reproducing a paper's results table
#
# `keras_fer.jobs.reproduce.reproduce` (`keras-fer reproduce`) runs the rows of a paper's
# results tables (its full model, baselines and ablations) under a subject-independent protocol and
# writes a table with the paper's own numbers beside each row.
#
# Without a dataset it runs from nothing on the built-in synthetic benchmark: it renders the
# benchmark, prepares it, caches features of a stand-in stem, and cross-validates each row.
# `quick=True` runs only the paper's full model, on the first fold, with fewer epochs. Here: CEFLNet,
# quick, about a minute on 2 CPU cores.
#
# **Synthetic numbers are not comparable with the papers' numbers.** The data are cartoon faces,
# not CK+ or DFEW; a FER2013 mini-Xception stands in for the papers' pretrained stems; training is
# scaled down. The papers' numbers are printed only to say which row is which. To compare with a
# paper, run the same rows on the paper's dataset (see the end of this notebook).

# %%
from IPython.display import Image, Markdown, display

from keras_fer.evaluation.reported import PROTOCOLS, reported
from keras_fer.jobs.reproduce import SYNTHETIC_PLANS, reproduce

# %% [markdown]
# What the synthetic run changes for CEFLNet:

# %%
plan = SYNTHETIC_PLANS["ceflnet"]
print(plan.note)
print(f"quick=True: the full model only, on the first fold, {plan.quick_epochs} epochs")

# %% [markdown]
# Run it. `workers=1` trains the rows in this process. (With several rows, for example
# `paper="all"`, the default runs them in up to 4 spawned worker processes, which also works from a
# notebook.)

# %%
results = reproduce("runs/reproduce_ceflnet", paper="ceflnet", quick=True, workers=1)
print(f"{results['seconds']:.0f} s")

# %% [markdown]
# The table `reproduce` wrote (`runs/reproduce_ceflnet/reproduce.md`; the same data are in
# `reproduce.json`). "folds x epochs" is what ran; "paper reports" is the paper's number for that
# row on each dataset it used.

# %%
display(Markdown(filename="runs/reproduce_ceflnet/reproduce.md"))

# %% [markdown]
# Our row beside chance, and the CEFLNet paper's own numbers for the same model (from
# `keras_fer.evaluation.reported`, with the table each comes from):

# %%
row = results["papers"]["ceflnet"]["rows"][0]
accuracy = row["summary"]["accuracy"]["mean"]
print(f"{row['model']} on synthetic macro: {accuracy:.1%} accuracy on {row['n_folds']} fold, chance {1 / 6:.1%}")

lines = ["| model | dataset | metric | paper (%) | source |", "|---|---|---|---|---|"]
lines += [f"| `{e.model}` | {e.dataset} | {e.metric} | {e.value:g} | {e.source} |" for e in reported("ceflnet")]
display(Markdown("\n".join(lines)))

# %% [markdown]
# Each number was measured under its dataset's protocol, which the papers describe as:

# %%
for dataset in sorted({e.dataset for e in reported("ceflnet")}):
    print(f"{dataset}: {PROTOCOLS[dataset]}")

# %% [markdown]
# The run's confusion matrix on the test subjects of its fold (rows: true classes):

# %%
Image("runs/reproduce_ceflnet/ceflnet/ceflnet/confusion_matrix.png")

# %% [markdown]
# The whole table, every row of the five papers, takes about 13 minutes on 2 CPU cores:
#
# ```bash
# keras-fer reproduce --out runs/reproduce
# ```
#
# On a real dataset (your own licensed copy, prepared and cached as in notebook 02, with the
# papers' stems' weights), the same call runs the dataset's protocol and prints only the paper's
# numbers on that dataset, which are then comparable:
#
# ```bash
# keras-fer reproduce --paper ceflnet --dataset bu3dfe --data-root BU3DFE/ --features bu3dfe_resnet18/ --out runs/ceflnet_bu3dfe
# ```
