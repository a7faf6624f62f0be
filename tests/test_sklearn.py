"""The scikit-learn estimators: contract checks, pipelines, grid search, CV."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sklearn
from conftest import CHECKPOINTS, checkpoint, standardized_iris
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from py_dl4j_ft.errors import LabelError, ShapeError
from py_dl4j_ft.sklearn import Dl4jClassifier, Dl4jRegressor

pytestmark = pytest.mark.jvm

IRIS = "deeplearning4j__deeplearning4j-examples/trained_iris_model.zip"
REGRESSION = (
    "deeplearning4j__dl4j-test-resources/080_ModelSerializer_Regression_MLP_2.zip"
)
MESH = "laurent-daniel-utt__MeshIneBits/trained_model.zip"

# scikit-learn's checks build their own data, mostly with 2, 3, 5 or 10 features. A
# pretrained network's input layer has a fixed width (iris: 4, MeshIneBits: 20), so on
# those the estimator refuses X (with the "X has n features, but ... is expecting m"
# message sklearn itself uses) and the check cannot get past fitting. Every check
# listed here fails for that reason only; the other checks of the suite run and pass.
_WIDTH = "the check's data has a feature count other than the network's fixed input"
_BOTH = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_supervised_y_2d",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]
EXPECTED_FAILED_CHECKS = {
    Dl4jClassifier: dict.fromkeys(
        _BOTH
        + [
            "check_classifier_data_not_an_array",
            "check_classifiers_classes",
            "check_classifiers_train",
        ],
        _WIDTH,
    ),
    # 4 features happen to suit iris in some checks that MeshIneBits' 20 do not.
    Dl4jRegressor: dict.fromkeys(
        _BOTH
        + [
            "check_n_features_in_after_fitting",
            "check_positive_only_tag_during_fit",
            "check_regressors_train",
            "check_regressor_data_not_an_array",
            "check_regressors_no_decision_function",
            "check_regressors_int",
            "check_fit2d_1sample",
        ],
        _WIDTH,
    ),
}


def _contract_estimators():
    # Collected before the session fixtures run, so a missing file is no error here.
    return [
        Dl4jClassifier(str(CHECKPOINTS / IRIS), epochs=1, learning_rate=0.05),
        Dl4jRegressor(str(CHECKPOINTS / MESH), epochs=1),
    ]


def _expected_failures(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator)]


@pytest.mark.skipif(
    tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 6),
    reason="expected_failed_checks needs scikit-learn 1.6 or newer",
)
@parametrize_with_checks(
    _contract_estimators(), expected_failed_checks=_expected_failures
)
def test_scikit_learn_contract(jvm, estimator, check):
    checkpoint(IRIS)
    checkpoint(MESH)
    check(estimator)


def _iris_names():
    data = load_iris()
    return data.data, data.target_names[data.target]


def test_pipeline_reaches_high_accuracy_with_string_labels(jvm):
    x, names = _iris_names()
    x_train, x_test, y_train, y_test = train_test_split(
        x, names, test_size=0.3, stratify=names, random_state=0
    )
    pipe = make_pipeline(
        StandardScaler(),
        Dl4jClassifier(checkpoint(IRIS), learning_rate=0.05, epochs=10, batch_size=16),
    )
    pipe.fit(x_train, y_train)
    model = pipe[-1]
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(pipe.predict(x_test)) <= set(model.classes_)
    proba = pipe.predict_proba(x_test)
    assert proba.shape == (len(x_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert pipe.score(x_test, y_test) >= 0.9
    assert len(model.history_.epochs) == 10


def test_grid_search_picks_the_rate_that_learns_a_relabelled_task(jvm):
    # Classes renamed in a cycle: the pretrained network is wrong on nearly every
    # example, so only a rate large enough to move it gets a good score.
    x, y = standardized_iris()
    y = (y + 1) % 3
    search = GridSearchCV(
        Dl4jClassifier(checkpoint(IRIS), epochs=15, batch_size=16),
        {"learning_rate": [1e-5, 0.1]},
        cv=3,
    )
    search.fit(x, y)
    scores = dict(
        zip(
            search.cv_results_["param_learning_rate"],
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    assert search.best_params_ == {"learning_rate": 0.1}
    assert scores[0.1] >= 0.8
    assert scores[1e-5] <= 0.2
    assert search.best_estimator_.score(x, y) >= 0.8


def test_cross_validation_scores_are_sane(jvm):
    x, y = standardized_iris()
    scores = cross_val_score(
        Dl4jClassifier(checkpoint(IRIS), learning_rate=0.05, epochs=5, batch_size=16),
        x,
        y,
        cv=5,
    )
    assert len(scores) == 5
    assert scores.min() >= 0.8 and scores.max() <= 1.0
    assert scores.mean() >= 0.9


def test_every_fit_starts_from_the_checkpoint_and_clones_are_independent(jvm):
    x, y = standardized_iris()
    estimator = Dl4jClassifier(checkpoint(IRIS), learning_rate=0.1, epochs=2)
    first = estimator.fit(x, y).predict_proba(x)
    twin = clone(estimator)
    assert not hasattr(twin, "model_")
    assert twin.get_params() == estimator.get_params()
    second = estimator.fit(x, y).predict_proba(x)  # not a third epoch on top
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(twin.fit(x, y).predict_proba(x), first)

    estimator.set_params(learning_rate=0.01, epochs=1)
    assert estimator.get_params()["learning_rate"] == 0.01
    assert not np.array_equal(estimator.fit(x, y).predict_proba(x), first)

    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict_proba(x), estimator.predict_proba(x))


def test_regressor_on_a_real_mse_network(jvm):
    # MeshIneBits' 20-input, 2-output MSE network (trained for another task) adapted to
    # a synthetic smooth target at its own rate; measured R^2 on held-out rows: 0.44.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20)).astype(np.float32)
    y = np.tanh(x @ rng.normal(size=(20, 2)) / 4).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    regressor = Dl4jRegressor(checkpoint(MESH), epochs=20, batch_size=16)
    regressor.fit(x_train, y_train)
    assert regressor.predict(x_test).shape == (len(x_test), 2)
    assert regressor.score(x_test, y_test) >= 0.3
    assert regressor.history_.loss[-1] < regressor.history_.loss[0] / 10


def test_bad_inputs_name_the_fix(jvm):
    x, y = standardized_iris()
    with pytest.raises(LabelError, match="y has 4 classes, but the output layer"):
        Dl4jClassifier(checkpoint(IRIS), epochs=1).fit(x, np.arange(150) % 4)
    with pytest.raises(ShapeError, match="X has 3 feature.s., but Dl4jClassifier"):
        Dl4jClassifier(checkpoint(IRIS), epochs=1).fit(x[:, :3], y)
    with pytest.raises(LabelError, match="regression loss; use Dl4jRegressor"):
        Dl4jClassifier(checkpoint(REGRESSION), epochs=1).fit(x[:, :3], y)
    fitted = Dl4jClassifier(checkpoint(IRIS), epochs=1).fit(x, y)
    with pytest.raises(ShapeError, match="X has 5 features, but Dl4jClassifier is exp"):
        fitted.predict(np.zeros((2, 5)))


def test_a_regressor_on_a_classifier_checkpoint_says_use_the_classifier(jvm):
    x, y = standardized_iris()
    with pytest.raises(
        LabelError,
        match=r"is a classifier .*LossNegativeLogLikelihood.*use Dl4jClassifier",
    ):
        Dl4jRegressor(checkpoint(IRIS), epochs=1).fit(x, y.astype(np.float32))


def test_without_scikit_learn_the_import_names_the_extra(monkeypatch):
    import importlib
    import sys

    from py_dl4j_ft.errors import OptionalDependencyError

    monkeypatch.setitem(sys.modules, "sklearn.base", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "py_dl4j_ft.sklearn")
    with pytest.raises(OptionalDependencyError, match=r"py_dl4j_ft\[sklearn\]"):
        importlib.import_module("py_dl4j_ft.sklearn")
