"""
Dice and IoU of a trivial baseline (Table 3, Figure 3)
======================================================

Section (2) of the paper: thresholding a chest CT at -400 HU and removing the air
connected to the outside of the body segments the air *inside* the body: the lungs,
and also the trachea, the bronchi and bowel gas. Used as a lung segmentation it is
medically unacceptable, yet it reaches a mean Dice of 0.92 on the Lung CT
Segmentation Challenge 2017 (Table 3). A lung model with Dice 0.92 is therefore a
weak model: report such a baseline beside Dice and IoU.

By default the CT volumes are synthetic phantoms
(:func:`pitfalls.datasets.make_ct_phantom`); ``--data`` reads LCTSC-style data with
:func:`pitfalls.datasets.load_lctsc`.
"""

# %%
from pitfalls.reproduction import example_arguments, run

args = example_arguments(__doc__)

# %%
# :func:`pitfalls.baselines.segmentation_baseline_report` scores
# :func:`pitfalls.baselines.air_in_body_mask` against the reference lung masks;
# the figure shows a case drawn at random, as the paper's Figure 3.
result = run(
    "segmentation-baseline",
    quick=args.quick,
    device=args.device,
    data=args.data,
    out=args.out,
    random_state=args.seed,
)
print(result)

# %%
# Per-case scores: Dice is never below IoU (IoU = Dice / (2 - Dice)).
print(result.raw.head())
