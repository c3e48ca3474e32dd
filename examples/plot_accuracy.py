"""
Accuracy on an imbalanced endpoint (the 94% naive model)
========================================================

Section (2) of the paper: 8 of the 137 head-and-neck patients develop distant
metastasis. A "model" that calls every patient negative is 94% accurate, and has no
medical use: it finds none of the metastases (recall 0).

The example also cross-validates the Appendix A random forest on the same endpoint:
its accuracy looks respectable too, while precision, recall and F1 show how little
it finds.
"""

# %%
from pitfalls.reproduction import example_arguments, run

args = example_arguments(__doc__)

# %%
# In the docs build the forest is repeated twice; the default quick run repeats
# it 20 times, ``--full`` 100 times with the paper's grid search.
result = run(
    "accuracy",
    quick=args.quick,
    device=args.device,
    data=args.data,
    out=args.out,
    n_repeats=args.n_repeats or 2,
    random_state=args.seed,
)
print(result)

# %%
# Accuracy alone says both models are good; the other columns say otherwise.
print(result.scores.round(3))
