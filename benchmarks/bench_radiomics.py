"""Benchmark: pitfalls.radiomics.extract_features against a plain pyradiomics loop.

Both extract the same synthetic CT tumours with pyradiomics' default settings;
the script checks the results are identical and prints the time ratio
(pitfalls / plain loop) for serial and parallel extraction.

Run: python benchmarks/bench_radiomics.py [--cases 16] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import SimpleITK as sitk
from radiomics import featureextractor

from pitfalls.datasets import make_ct_tumours
from pitfalls.radiomics import extract_features

SPACING = (3.0, 1.0, 1.0)


def plain_loop(volumes: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """What a user writes by hand: one extractor, one case after the other."""
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor()
    rows = []
    for volume, mask in zip(volumes, masks, strict=True):
        image, label = sitk.GetImageFromArray(volume), sitk.GetImageFromArray(mask)
        for item in (image, label):
            item.SetSpacing(list(reversed(SPACING)))
        result = extractor.execute(image, label)
        rows.append([float(v) for k, v in result.items() if not k.startswith("diagnostics_")])
    return np.asarray(rows)


def best_of(repeats: int, func, *args, **kwargs):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    volumes, masks, _ = make_ct_tumours(args.cases, random_state=0)

    t_ref, reference = best_of(args.repeats, plain_loop, volumes, masks)
    t_serial, serial = best_of(
        args.repeats, extract_features, volumes, masks, spacing=SPACING, verbose=False
    )
    t_parallel, parallel = best_of(
        args.repeats,
        extract_features,
        volumes,
        masks,
        spacing=SPACING,
        n_jobs=args.n_jobs,
        verbose=False,
    )
    np.testing.assert_array_equal(serial.to_numpy(), reference)
    np.testing.assert_array_equal(parallel.to_numpy(), reference)
    print(f"{args.cases} cases of shape {volumes.shape[1:]}, default pyradiomics settings")
    print(f"plain pyradiomics loop        : {t_ref:7.3f} s  (reference)")
    print(f"extract_features n_jobs=1     : {t_serial:7.3f} s  ratio {t_serial / t_ref:.2f}")
    print(
        f"extract_features n_jobs={args.n_jobs:<6d}: {t_parallel:7.3f} s  "
        f"ratio {t_parallel / t_ref:.2f}"
    )


if __name__ == "__main__":
    main()
