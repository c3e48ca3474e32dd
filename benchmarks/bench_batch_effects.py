"""Benchmark ``pitfalls.batch_effects``: the site-probe permutation test and ComBat.

Prints, each against a reference measured in the same run:

1. ``batch_predictability`` (default probe, two sites, 100 permutations, 5 folds)
   against scikit-learn's ``permutation_test_score`` with the same pipeline
   (standardisation + logistic regression), the same folds and ROC AUC; once with
   few features (the batched-Newton path) and once with many (the per-fit path);
2. ``ComBat().fit_transform`` against ``neuroCombat`` on the same data, with the
   largest difference between the two outputs;
3. ``confounding_test`` on a 1M-row manifest (string labels and sites) against the
   straightforward ``pandas.crosstab`` + ``scipy.stats.chi2_contingency``.

Both sides run single-process (``n_jobs=1``) with one BLAS thread so the ratio measures
the algorithm; times are process CPU seconds, so that a busy shared machine does not
distort the ratios.

Run: ``python benchmarks/bench_batch_effects.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, permutation_test_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from pitfalls.batch_effects import ComBat, batch_predictability, confounding_test


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    # CPU time of this process (BLAS threads included): the benchmark machine is often
    # shared, and wall-clock ratios then measure the neighbours' load, not the code
    start = time.process_time()
    out = func()
    return time.process_time() - start, out


def site_data(n_samples: int, n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sites = np.repeat(["site_a", "site_b"], n_samples // 2)
    X = rng.normal(size=(sites.size, n_features))
    X[sites == "site_b", : max(1, n_features // 10)] += 0.3  # a weak site signature
    return X, sites


def bench_probe(n_samples: int, n_features: int, n_permutations: int) -> None:
    X, sites = site_data(n_samples, n_features)
    t_ours, ours = timed(
        lambda: batch_predictability(
            X, sites, cv=5, n_permutations=n_permutations, random_state=0, n_jobs=1
        )
    )
    # the same folds the probe used (it seeds StratifiedKFold from random_state)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    t_ref, (ref_score, _, _) = timed(
        lambda: permutation_test_score(
            pipe,
            X,
            sites,
            cv=cv,
            scoring="roc_auc",
            n_permutations=n_permutations,
            random_state=0,
            n_jobs=1,
        )
    )
    print(
        f"probe n={n_samples} p={n_features} perms={n_permutations}: pitfalls "
        f"{t_ours:.2f} s CPU, sklearn permutation_test_score {t_ref:.2f} s CPU, speed-up "
        f"{t_ref / t_ours:.1f}x (observed AUC {ours.score:.4f} vs {ref_score:.4f})"
    )


def bench_combat(n_samples: int, n_features: int) -> None:
    import pandas as pd
    from neuroCombat import neuroCombat

    rng = np.random.default_rng(1)
    sites = np.repeat(["a", "b", "c", "d"], n_samples // 4)
    codes = np.unique(sites, return_inverse=True)[1]
    X = rng.normal(size=(sites.size, n_features)) * rng.uniform(0.5, 2, (4, 1))[codes]
    X += rng.normal(0, 2, (4, n_features))[codes]
    t_ours, ours = timed(lambda: ComBat().fit_transform(X, sites=sites))
    covars = pd.DataFrame({"site": sites})
    with contextlib.redirect_stdout(io.StringIO()):
        t_ref, ref = timed(lambda: neuroCombat(X.T.copy(), covars, "site")["data"].T)
    print(
        f"ComBat n={n_samples} p={n_features}: pitfalls {t_ours:.3f} s CPU, neuroCombat "
        f"{t_ref:.3f} s CPU, speed-up {t_ref / t_ours:.1f}x, max |difference| "
        f"{np.abs(ours - ref).max():.2e}"
    )


def bench_confounding(n_rows: int) -> None:
    import pandas as pd
    from scipy.stats import chi2_contingency

    rng = np.random.default_rng(2)
    labels = rng.choice(np.array(["normal", "pneumonia"]), n_rows)
    sites = rng.choice(np.array(["site_a", "site_b", "site_c", "site_d"]), n_rows)
    t_ours, ours = timed(lambda: confounding_test(labels, sites, warn=False))

    def reference() -> float:
        table = pd.crosstab(pd.Series(sites), pd.Series(labels))
        return float(chi2_contingency(table.to_numpy(), correction=False)[0])

    t_ref, statistic = timed(reference)
    print(
        f"confounding_test n={n_rows}: pitfalls {t_ours:.3f} s CPU, crosstab + chi2 "
        f"{t_ref:.3f} s CPU, speed-up {t_ref / t_ours:.1f}x (chi2 {ours.statistic:.3f} vs "
        f"{statistic:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    args = parser.parse_args()
    with threadpool_limits(1):
        run(args.quick)


def run(quick: bool) -> None:
    perms = 30 if quick else 100
    bench_probe(300 if quick else 1000, 20, perms)
    bench_probe(300 if quick else 1000, 60, perms)
    bench_probe(300 if quick else 1000, 300, max(10, perms // 5))
    bench_combat(400 if quick else 2000, 100 if quick else 500)
    bench_confounding(100_000 if quick else 1_000_000)


if __name__ == "__main__":
    main()
