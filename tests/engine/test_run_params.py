"""Parameters are data: a run's track and params, and a config hash without paths."""
import json

from benchmark.defaults import TRAIN_BATCH_SIZE, TRAIN_ITERS
from benchmark.engine.run_config import RunConfig
from benchmark.results import config_hash


def run(**overrides):
    base = dict(dataset="synthcity", root="/data/a", method="edge_based", model="unet", resolution=(16, 32),
                out="/runs/a/synthcity-edge_based-unet-16x32-s0",
                method_options={"aux_checkpoint": "/runs/a/synthcity-edge_based-aux/aux.pt", "lam": 0.5})
    base.update(overrides)
    return RunConfig(**base)


def test_params_name_the_method_every_option_and_the_training_settings():
    identity = run().identity
    assert identity["track"] == "input_downsampling"
    params = json.loads(identity["params"])
    assert params["method"] == "edge_based"
    assert params["options"] == {"aux_checkpoint": "aux.pt", "image_mode": "bilinear", "lam": 0.5,
                                 "target_classes": None}  # defaults included, files by name
    assert params["train"] == {"batch_size": TRAIN_BATCH_SIZE, "crop": None, "iters": TRAIN_ITERS, "lr": 0.001,
                               "scale_range": [0.75, 1.25], "weight_decay": 0.0001}
    assert identity["params"] == json.dumps(params, sort_keys=True, separators=(",", ":"))  # canonical


def test_the_same_settings_in_two_folders_hash_the_same_and_a_setting_changes_it():
    other = run(root="/elsewhere", out="/tmp/x/synthcity-edge_based-unet-16x32-s0",
                method_options={"aux_checkpoint": "/tmp/x/aux/aux.pt", "lam": 0.5})
    assert config_hash(run().settings()) == config_hash(other.settings())
    assert run().training_fingerprint() == other.training_fingerprint()
    assert config_hash(run(lr=0.01).settings()) != config_hash(run().settings())
    assert json.loads(run(method_options={"lam": 1.0}).identity["params"])["options"]["lam"] == 1.0


def test_other_tracks_name_theirs():
    assert run(method="hierarchical_clustering", model="fcn32", method_options={}).identity["track"] == \
        "network_downsampling"
