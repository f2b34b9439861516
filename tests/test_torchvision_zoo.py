"""Every torchvision classifier: edgegap's MACs and parameters against the published metadata."""

import pytest
import torchvision
from torchvision.models import get_model_weights, list_models

import edgegap
from edgegap.workload import published, zoo
from edgegap.workload.fusion import RULES, fuse

CLASSIFIERS = list_models(module=torchvision.models)

# Published `num_params` counts the model as torchvision builds it with its weights. Only
# inception_v3 keeps a head that eval-mode inference never runs: its auxiliary classifier.
UNUSED_IN_INFERENCE = {"inception_v3": 3_326_696}


def test_the_zoo_is_torchvisions_classifiers():
    assert len(CLASSIFIERS) >= 80
    assert list(zoo.classification_models()) == CLASSIFIERS


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_macs_and_params_match_published_metadata(name):
    meta = get_model_weights(name).DEFAULT.meta
    workload = edgegap.profile(name)
    gmacs = workload.totals.macs / 1e9
    tolerance = max(0.001 * meta["_ops"], 0.0005)  # 0.1% or the rounding of 3 decimals
    assert abs(gmacs - meta["_ops"]) <= tolerance, (gmacs, meta["_ops"])
    unused = UNUSED_IN_INFERENCE.get(name, 0)
    assert workload.unused_params == unused
    assert workload.totals.params + unused == meta["num_params"]
    assert workload.uncounted_ops == {}
    # Fused with every rule: the same MACs and parameters, never more FLOPs, fewer or as
    # many layers, links backwards only, and a second pass changes nothing.
    fused = fuse(workload, RULES)
    assert (fused.totals.macs, fused.totals.params) == (workload.totals.macs,
                                                         workload.totals.params)  # fmt: skip
    assert fused.totals.flops <= workload.totals.flops
    assert len(fused.layers) <= len(workload.layers)
    assert all(p < layer.index for layer in fused.layers for p in layer.producers)
    assert fuse(fused, RULES) == fused


def test_default_input_size_comes_from_the_weights():
    assert zoo.default_input_shape("inception_v3") == (1, 3, 299, 299)
    assert zoo.default_input_shape("vit_h_14") == (1, 3, 518, 518)
    assert zoo.default_input_shape("resnet50") == (1, 3, 224, 224)


def test_zoo_table_carries_published_metadata():
    table = published.zoo_table().set_index("model")
    assert table.loc["alexnet", "gmacs"] == pytest.approx(0.714)
    assert table.loc["alexnet", "params"] == 61_100_840
    assert table.loc["inception_v3", "input_size"] == 299
    assert len(table) == len(CLASSIFIERS)


def test_shipped_zoo_table_is_what_torchvision_publishes():
    """data/zoo.csv lets `edgegap zoo` run without torchvision; regenerated here from the
    installed torchvision, it must not have gone stale (`python -m edgegap.workload.zoo
    --write` rewrites it)."""
    shipped = published.SHIPPED.read_text(encoding="utf-8")
    assert published.to_csv(zoo.published_models()) == shipped
    assert [m.model for m in published.zoo_models()] == CLASSIFIERS


def test_zoo_columns_are_the_records_fields():
    assert list(published.COLUMNS) == list(published.zoo_models()[0].to_dict())
