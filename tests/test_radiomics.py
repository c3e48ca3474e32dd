"""Tests for pitfalls.radiomics: results must equal a direct pyradiomics run."""

import logging
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pitfalls.datasets import make_ct_tumours
from pitfalls.radiomics import RadiomicsFeatureExtractor, extract_features

sitk = pytest.importorskip("SimpleITK")
featureextractor = pytest.importorskip("radiomics.featureextractor")
pytestmark = pytest.mark.radiomics

SPACING = (2.0, 1.0, 0.8)  # (z, y, x) in numpy order


@pytest.fixture(scope="module")
def cases():
    volumes, masks, manifest = make_ct_tumours(3, shape=(12, 24, 24), random_state=0)
    return volumes, masks, manifest


def _sitk(array, spacing=SPACING):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(list(reversed(spacing)))
    return image


def _direct(image, mask, *args, **kwargs):
    """What a user gets from pyradiomics itself, diagnostics dropped."""
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    with warnings.catch_warnings():  # pykwalify (used by pyradiomics) calls load_module()
        warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
        extractor = featureextractor.RadiomicsFeatureExtractor(*args, **kwargs)
    result = extractor.execute(image, mask)
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}


def test_defaults_equal_a_direct_pyradiomics_run(cases):
    volumes, masks, manifest = cases
    features = extract_features(
        volumes, masks, ids=manifest["case_id"], spacing=SPACING, verbose=False
    )
    assert features.index.tolist() == ["CT-001", "CT-002", "CT-003"]
    assert features.index.name == "case"
    for i, case in enumerate(features.index):
        expected = _direct(_sitk(volumes[i]), _sitk(masks[i]))
        assert list(features.columns) == list(expected)
        np.testing.assert_array_equal(features.loc[case].to_numpy(), list(expected.values()))
    assert not any(c.startswith("diagnostics") for c in features.columns)
    assert all(dtype == np.float64 for dtype in features.dtypes)
    assert features.shape == (3, 107)


def test_settings_dict_and_params_file_form_equal_pyradiomics(cases):
    volumes, masks, _ = cases
    flat = extract_features(
        volumes[:1], masks[:1], spacing=SPACING, settings={"binWidth": 10}, verbose=False
    )
    expected = _direct(_sitk(volumes[0]), _sitk(masks[0]), binWidth=10)
    np.testing.assert_array_equal(flat.iloc[0].to_numpy(), list(expected.values()))
    default = extract_features(volumes[:1], masks[:1], spacing=SPACING, verbose=False)
    assert not np.allclose(
        default["original_firstorder_Entropy"], flat["original_firstorder_Entropy"]
    )

    params = {
        "setting": {"binWidth": 25},
        "imageType": {"Original": {}, "LoG": {"sigma": [1.0]}},
        "featureClass": {"firstorder": ["Mean", "Entropy"]},
    }
    filtered = extract_features(
        volumes[:1], masks[:1], spacing=SPACING, settings=params, verbose=False
    )
    assert sorted(filtered.columns) == [
        "log-sigma-1-0-mm-3D_firstorder_Entropy",
        "log-sigma-1-0-mm-3D_firstorder_Mean",
        "original_firstorder_Entropy",
        "original_firstorder_Mean",
    ]
    expected = _direct(_sitk(volumes[0]), _sitk(masks[0]), params)
    assert filtered.iloc[0].to_dict() == expected


def test_yaml_parameter_file(cases, tmp_path):
    volumes, masks, _ = cases
    path = tmp_path / "params.yaml"
    path.write_text("setting:\n  binWidth: 5\nfeatureClass:\n  firstorder: [Mean, Median]\n")
    features = extract_features(
        volumes[:1], masks[:1], spacing=SPACING, settings=path, verbose=False
    )
    assert features.iloc[0].to_dict() == _direct(_sitk(volumes[0]), _sitk(masks[0]), str(path))
    assert list(features.columns) == ["original_firstorder_Mean", "original_firstorder_Median"]


def test_paths_and_sitk_images_give_the_same_features_as_arrays(cases, tmp_path):
    volumes, masks, _ = cases
    image_paths, mask_paths = [], []
    for i in range(2):
        image_paths.append(tmp_path / f"case{i}.nrrd")
        mask_paths.append(tmp_path / f"case{i}_mask.nii.gz")
        sitk.WriteImage(_sitk(volumes[i]), str(image_paths[-1]))
        sitk.WriteImage(_sitk(masks[i]), str(mask_paths[-1]))
    from_paths = extract_features(image_paths, mask_paths, verbose=False)
    assert from_paths.index.tolist() == ["case0", "case1"]
    from_arrays = extract_features(volumes[:2], masks[:2], spacing=SPACING, verbose=False)
    np.testing.assert_allclose(from_paths.to_numpy(), from_arrays.to_numpy(), rtol=1e-12)
    from_sitk = extract_features(
        [_sitk(v) for v in volumes[:2]],
        [_sitk(m.astype(bool).astype(np.uint8)) for m in masks[:2]],
        verbose=False,
    )
    np.testing.assert_array_equal(from_sitk.to_numpy(), from_arrays.to_numpy())


def test_boolean_masks_and_per_case_spacing(cases):
    volumes, masks, _ = cases
    spacings = [(1.0, 1.0, 1.0), (3.0, 1.0, 1.0)]
    features = extract_features(
        volumes[:2], masks[:2].astype(bool), spacing=spacings, verbose=False
    )
    voxel_volume = features["original_shape_VoxelVolume"].to_numpy()
    np.testing.assert_allclose(voxel_volume, [masks[0].sum() * 1.0, masks[1].sum() * 3.0])


def test_parallel_equals_serial(cases):
    volumes, masks, _ = cases
    serial = extract_features(volumes, masks, spacing=SPACING, verbose=False)
    with parallel_config(backend="threading"):
        threaded = extract_features(volumes, masks, spacing=SPACING, n_jobs=2, verbose=False)
    pd.testing.assert_frame_equal(serial, threaded)
    processes = extract_features(volumes[:2], masks[:2], spacing=SPACING, n_jobs=2, verbose=False)
    pd.testing.assert_frame_equal(serial.iloc[:2], processes)


def test_pyradiomics_warnings_are_silenced_and_logger_restored(cases, caplog):
    volumes, masks, _ = cases
    logger = logging.getLogger("radiomics")
    logger.setLevel(logging.INFO)
    with caplog.at_level(logging.DEBUG):
        extract_features(volumes[:1], masks[:1], verbose=False)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert logger.level == logging.INFO


def test_progress_bar_goes_to_stderr(cases, capsys):
    volumes, masks, _ = cases
    extract_features(volumes[:1], masks[:1], verbose=True)
    captured = capsys.readouterr()
    assert "radiomics" in captured.err and captured.out == ""
    extract_features(volumes[:1], masks[:1])
    assert capsys.readouterr().err == ""  # quiet by default, as scikit-learn's verbose=0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"masks": "short"},
            ValueError,
            r"images has 3 cases but masks has 1; give one mask per image\.",
        ),
        ({"ids": ["a", "a", "b"]}, ValueError, r"ids must be unique; repeated: \['a'\]\."),
        ({"ids": ["a"]}, ValueError, r"ids has 1 entries for 3 cases"),
        ({"spacing": [(1, 1, 1)] * 2}, ValueError, r"spacing has 2 entries for 3 cases"),
        (
            {"spacing": (1.0, 1.0)},
            ValueError,
            r"spacing=\(1.0, 1.0\) has 2 values but image of case 0 has 3 axes",
        ),
        ({"settings": "nope.yaml"}, FileNotFoundError, r"settings='nope.yaml' is not an existing"),
        ({"settings": 3}, TypeError, r"settings must be None, a dict or a path"),
    ],
)
def test_errors_name_the_argument(cases, kwargs, error, match):
    volumes, masks, _ = cases
    if kwargs.get("masks") == "short":
        kwargs["masks"] = masks[:1]
    kwargs.setdefault("masks", masks)
    with pytest.raises(error, match=match):
        extract_features(volumes, verbose=False, **kwargs)


def test_missing_image_file(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"image of case 'x' file '.*x.nrrd' does not exist\."
    ):
        extract_features([tmp_path / "x.nrrd"], [tmp_path / "m.nrrd"], verbose=False)


def test_missing_pyradiomics_names_the_extra(monkeypatch, cases):
    volumes, masks, _ = cases
    monkeypatch.setitem(sys.modules, "radiomics", None)
    with pytest.raises(ImportError, match=r'pip install "pitfalls\[radiomics\]"'):
        extract_features(volumes, masks, verbose=False)


def test_transformer_matches_function_and_works_in_a_pipeline(cases):
    volumes, masks, _ = cases
    X = pd.DataFrame({"img": list(volumes), "seg": list(masks)}, index=["a", "b", "c"])
    extractor = RadiomicsFeatureExtractor(image_column="img", mask_column="seg", spacing=SPACING)
    out = extractor.fit_transform(X)
    expected = extract_features(volumes, masks, spacing=SPACING, verbose=False)
    np.testing.assert_array_equal(out, expected.to_numpy())
    assert list(extractor.get_feature_names_out()) == list(expected.columns)
    fitted_then_transformed = clone(extractor).fit(X.iloc[:1]).transform(X)
    np.testing.assert_array_equal(fitted_then_transformed, out)

    frame = clone(extractor).set_output(transform="pandas").fit_transform(X)
    assert list(frame.index) == ["a", "b", "c"] and list(frame.columns) == list(expected.columns)

    model = make_pipeline(clone(extractor), StandardScaler(), LogisticRegression())
    model.fit(X, [0, 1, 1])
    assert model.predict(X).shape == (3,)


def test_transformer_input_errors(cases):
    volumes, masks, _ = cases
    with pytest.raises(ValueError, match=r"image_column='image' is not a column of X"):
        RadiomicsFeatureExtractor().fit(pd.DataFrame({"img": list(volumes), "mask": list(masks)}))
    with pytest.raises(ValueError, match=r"X has no cases"):
        RadiomicsFeatureExtractor().fit([])
    with pytest.raises(ValueError, match=r"sequence of \(image, mask\) pairs"):
        RadiomicsFeatureExtractor().fit([(volumes[0],)])
    # a 1-D array of numbers (no pairs at all) is refused with the same words, not a TypeError
    with pytest.raises(ValueError, match=r"sequence of \(image, mask\) pairs"):
        RadiomicsFeatureExtractor().fit(np.arange(3.0))
    from scipy import sparse

    with pytest.raises(TypeError, match="X is a SciPy sparse matrix"):
        RadiomicsFeatureExtractor().fit(sparse.csr_matrix(np.eye(2)))


def test_importing_the_subpackages_loads_no_optional_dependency():
    import subprocess

    code = (
        "import sys, pitfalls.radiomics, pitfalls.datasets; "
        "heavy = {'radiomics', 'SimpleITK', 'pydicom', 'nibabel', 'nrrd', 'torch'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_worker_processes_stay_quiet(cases, capfd):
    volumes, masks, _ = cases
    extract_features(volumes[:2], masks[:2], n_jobs=2, verbose=False)
    assert "GLCM is symmetrical" not in capfd.readouterr().err


def test_a_failing_case_raises_with_its_id_or_becomes_a_nan_row(cases):
    volumes, masks, _ = cases
    bad = masks.copy()
    bad[1] = 0  # an empty mask: pyradiomics refuses it
    with pytest.raises(ValueError, match="No labels found") as info:
        extract_features(volumes, bad, ids=["a", "b", "c"], verbose=False)
    if hasattr(info.value, "__notes__"):
        assert "case 'b'" in info.value.__notes__[0]
    with pytest.warns(
        UserWarning, match=r"pyradiomics failed on 1 of 3 case\(s\) \('b'\); their rows are NaN"
    ):
        features = extract_features(volumes, bad, ids=["a", "b", "c"], errors="warn", verbose=False)
    assert features.loc["b"].isna().all()
    assert features.loc[["a", "c"]].notna().all().all()
    good = extract_features(volumes, masks, ids=["a", "b", "c"], verbose=False)
    pd.testing.assert_frame_equal(features.loc[["a", "c"]], good.loc[["a", "c"]])
    with pytest.raises(ValueError, match="pyradiomics failed on every case"):
        extract_features(volumes[1:2], bad[1:2], errors="warn", verbose=False)
    with pytest.raises(
        ValueError, match=r"errors='ignore' is not supported; use 'raise' or 'warn'\."
    ):
        extract_features(volumes, masks, errors="ignore")
