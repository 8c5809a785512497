"""benchmark.matrix: the named experiment applied, then grids expanded, then the matrix that will
run validated; one-line errors naming the key as written. Fast: no Snakemake runs."""
import copy
import itertools
from pathlib import Path

import jsonschema
import pytest
import yaml

from benchmark.errors import DsbenchError
from benchmark.matrix import (build_matrix, dataset_target_classes, entry_models, label_word, load_schema,
                              run_keys)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())

# The default methods; the ci experiment adds the two ablation variants (its reference holds nine).
DEFAULT_LABELS = ["uniform", "edge_based", "deformation", "deformation_single", "interpolation",
                  "edge_sim_r1", "soft_labels"]
CI_LABELS = DEFAULT_LABELS + ["edge_sim_r2", "soft_labels_mc_off"]


def shipped(**top):
    config = copy.deepcopy(SHIPPED)
    config.update(top)
    return config


def error_of(config):
    with pytest.raises(DsbenchError) as caught:
        build_matrix(config)
    message = str(caught.value)
    assert "\n" not in message
    return message


def methods_of(experiment):
    return build_matrix(shipped(experiment=experiment))["methods"]


def test_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema())


# --- the shipped config: same run matrix as before grids ---------------------------------------


def test_default_matrix_is_the_one_before_grids():
    matrix = build_matrix(shipped())
    resolutions = ["16x32", "32x64", "64x128"]
    input_downsampling = [key for key in run_keys(matrix) if key[2] == "unet" and key[0] == "synthcity"]
    assert input_downsampling == list(itertools.product(["synthcity"], DEFAULT_LABELS, ["unet"], resolutions, [0]))
    # The Suzuki runs: the suzuki_hc experiment's but HCFCN-32's levels 3 and 4 (a CPU-budget choice).
    suzuki_hc = run_keys(build_matrix(shipped(experiment="suzuki_hc")))
    assert [key for key in run_keys(matrix) if key[2] != "unet"] == [
        key for key in suzuki_hc if key[1] not in ("hcfcn32_levels3", "hcfcn32_levels4")]
    assert matrix["train"] == {"iters": 120, "batch_size": 4, "lr": 0.001, "checkpoint_every": 100,
                               "class_weights": "inverse_sqrt_frequency"}
    assert matrix["methods"]["edge_based"] == {
        "method": "edge_based",
        "prepare": {"size_in": "32x64", "size_out": "8x16", "iters": 120, "batch_size": 16, "lam": 1.0, "features": 64}}
    assert matrix["methods"]["edge_sim_r1"] == {"method": "edge_sim", "options": {"radius": 1}}
    assert "prepare_override" not in matrix


# synthaerial (texture-defined land cover): Jin's DeepGlobe claim, the four methods it needs at
# two input sizes; no Suzuki runs, no superpixel track; no target classes (Cityscapes' are not its).
SYNTHAERIAL_LABELS = ["uniform", "edge_based", "deformation", "deformation_single"]


def test_default_matrix_runs_synthaerial_with_its_own_methods_and_resolutions_only():
    matrix = build_matrix(shipped())
    assert [key for key in run_keys(matrix) if key[0] == "synthaerial"] == list(
        itertools.product(["synthaerial"], SYNTHAERIAL_LABELS, ["unet"], ["32x64"], [0]))
    assert list(matrix["datasets"]) == ["synthcity", "synthaerial"]
    assert dataset_target_classes(matrix, "synthaerial") == []
    assert dataset_target_classes(matrix, "synthcity") == SHIPPED["target_classes"]
    assert set(matrix["superpixels"]["datasets"]) == {"synthcity"}
    # Same generation settings as synthcity (the make-data defaults).
    aerial, city = matrix["datasets"]["synthaerial"], matrix["datasets"]["synthcity"]
    assert {k: aerial[k] for k in ("generate", "split_sizes", "size", "seed")} == city


# seeds3 is the default matrix at three seeds, so it keeps both embedded datasets.
@pytest.mark.parametrize("name", sorted(set(SHIPPED["experiments"]) - {"seeds3"}))
def test_named_experiments_do_not_run_synthaerial(name):
    assert list(build_matrix(shipped(experiment=name))["datasets"]) == ["synthcity"]


def test_seeds3_is_the_default_matrix_at_three_seeds():
    default, seeds3 = build_matrix(shipped()), build_matrix(shipped(experiment="seeds3"))
    assert list(seeds3["datasets"]) == list(default["datasets"])
    assert {key[:-1] for key in run_keys(seeds3)} == {key[:-1] for key in run_keys(default)}
    assert {key[-1] for key in run_keys(seeds3)} == {0, 1, 2}
    assert seeds3["superpixels"]["methods"] == default["superpixels"]["methods"]  # the deep networks at 3 seeds too


def with_dataset(**entry):
    config = shipped()
    config["datasets"] = {**config["datasets"], "synthaerial": {**config["datasets"]["synthaerial"], **entry}}
    return config


def test_a_dataset_resolution_replaces_the_top_level_one_but_not_an_entrys_own():
    config = with_dataset(methods=["pspnet", "uniform"], resolutions=["8x16"])
    keys = [key for key in run_keys(build_matrix(config)) if key[0] == "synthaerial"]
    assert sorted(keys) == [("synthaerial", "pspnet", "pspnet", "256x512", 0), ("synthaerial", "uniform", "unet", "8x16", 0)]


def test_without_methods_a_dataset_runs_every_entry():
    config = with_dataset()
    del config["datasets"]["synthaerial"]["methods"], config["datasets"]["synthaerial"]["resolutions"]
    matrix = build_matrix(config)
    assert [k for k in run_keys(matrix) if k[0] == "synthaerial"] == [
        ("synthaerial", *k[1:]) for k in run_keys(matrix) if k[0] == "synthcity"]


def test_a_dataset_resolution_counts_for_train_by_resolution():
    config = with_dataset(resolutions=["8x16"])
    config["train_by_resolution"] = {"8x16": {"batch_size": 2}}
    build_matrix(config)


@pytest.mark.parametrize("entry, path, needle", [
    (dict(methods=["unifrom"]), "datasets.synthaerial.methods[0]", "did you mean uniform?"),
    (dict(methods=[]), "datasets.synthaerial.methods", ""),
    (dict(methods=["uniform", "uniform"]), "datasets.synthaerial.methods", ""),
    (dict(resolutions=[32]), "datasets.synthaerial.resolutions[0]", ""),
    (dict(target_classes="urban"), "datasets.synthaerial.target_classes", ""),
])
def test_bad_dataset_methods_resolutions_and_target_classes_are_named(entry, path, needle):
    message = error_of(with_dataset(**entry))
    assert message.startswith(path + ":") and needle in message, message


def test_an_experiment_whose_methods_lack_a_datasets_label_must_set_its_datasets():
    config = shipped(experiment="jin_edge_sim_radii")
    del config["experiments"]["jin_edge_sim_radii"]["datasets"]
    message = error_of(config)
    assert message.startswith("datasets.synthaerial.methods[1]: edge_based is not a method label"), message


def test_the_cli_and_generator_defaults_are_the_shipped_config():
    """One set of defaults (benchmark.defaults): `dsbench make-data` and `dsbench train` without
    options write the DAG's dataset and train its runs, so the two cannot drift apart."""
    from benchmark import defaults
    from benchmark.cli import build_parser
    from benchmark.data.synthcity import DEFAULT_SIZE, DEFAULT_SPLIT_SIZES
    from benchmark.engine.run_config import RunConfig

    synthcity = SHIPPED["datasets"]["synthcity"]
    # The one exception, on purpose: class weights are the default DAG's CPU-budget choice, while
    # `dsbench train` and RunConfig keep the papers' unweighted loss unless asked (benchmark.defaults).
    shipped_train = dict(SHIPPED["train"])
    assert shipped_train.pop("class_weights") == "inverse_sqrt_frequency"
    assert dict(defaults.SYNTHCITY_SPLIT_SIZES) == synthcity["split_sizes"]
    assert "x".join(map(str, defaults.SYNTHCITY_SIZE)) == synthcity["size"]
    assert defaults.SYNTHCITY_SEED == synthcity["seed"]
    assert {"iters": defaults.TRAIN_ITERS, "batch_size": defaults.TRAIN_BATCH_SIZE, "lr": defaults.TRAIN_LR,
            "checkpoint_every": defaults.TRAIN_CHECKPOINT_EVERY} == shipped_train
    assert dict(defaults.MODEL_ENCODERS) == {model: entry["encoder"] for model, entry in SHIPPED["models"].items()
                                             if "encoder" in entry}
    # ... and every place that has a default uses them
    make_data = build_parser().parse_args(["make-data", "--root", "x"])
    assert (make_data.split_sizes, make_data.size, make_data.seed) == (
        dict(defaults.SYNTHCITY_SPLIT_SIZES), defaults.SYNTHCITY_SIZE, defaults.SYNTHCITY_SEED)
    assert (dict(DEFAULT_SPLIT_SIZES), DEFAULT_SIZE) == (dict(defaults.SYNTHCITY_SPLIT_SIZES), defaults.SYNTHCITY_SIZE)
    train = build_parser().parse_args(["train", "--dataset", "synthcity", "--root", "x", "--method", "uniform",
                                       "--model", "unet", "--resolution", "16x32", "--out", "r"])
    assert {"iters": train.iters, "batch_size": train.batch_size, "lr": train.lr,
            "checkpoint_every": train.checkpoint_every} == shipped_train
    assert train.class_weights == "none"
    run = RunConfig(dataset="synthcity", root="x", method="uniform", model="unet", resolution=(16, 32))
    assert {"iters": run.iters, "batch_size": run.batch_size, "lr": run.lr,
            "checkpoint_every": run.checkpoint_every} == shipped_train
    assert run.class_weights == "none"
    from benchmark.cli import _run_config_from_args

    assert _run_config_from_args(train).encoder == SHIPPED["models"]["unet"]["encoder"]


def test_ci_matrix_is_the_one_before_grids():
    matrix = build_matrix(shipped(experiment="ci"))
    assert run_keys(matrix) == list(itertools.product(["synthcity"], CI_LABELS, ["unet"], ["16x32", "32x64"], [0]))
    assert matrix["methods"]["edge_sim_r2"] == {"method": "edge_sim", "options": {"radius": 2}}
    assert matrix["runs_dir"] == "results/ci/runs" and matrix["metrics_csv"] == "results/ci/metrics.csv"
    assert matrix["train"] == {"iters": 40, "batch_size": 4, "lr": 0.001, "checkpoint_every": 20}
    assert matrix["prepare_override"] == {"iters": 20, "batch_size": 4}
    assert matrix["reference_weights"] == "results/reference/ci_weights"


@pytest.mark.parametrize("name", sorted(SHIPPED["experiments"]))
def test_every_shipped_experiment_builds(name):
    matrix = build_matrix(shipped(experiment=name))
    # Something runs: segmentation networks, or the superpixel track alone (superpixels_bsds500).
    assert matrix["experiment"] == name and (matrix["methods"] or matrix["superpixels"]["methods"])
    # Every label is a Snakemake wildcard value and a result-row method name.
    assert all(label.replace("_", "").isalnum() and label.islower() for label in matrix["methods"])
    assert not any("grid" in entry or "train_grid" in entry for entry in matrix["methods"].values())
    # Every name is registered (what the Snakefile checks before building the DAG).
    import methods  # noqa: F401  registers every method
    from benchmark.models import MODELS
    from benchmark.registry import SUPERPIXEL_METHODS
    from benchmark.tracks import find_method

    for label, entry in matrix["methods"].items():
        find_method(entry["method"])
        for model in entry_models(matrix, label):
            MODELS.get(model)
    for entry in (matrix.get("superpixels") or {}).get("methods", {}).values():
        SUPERPIXEL_METHODS.get(entry["method"])


def test_build_does_not_modify_the_config():
    config = shipped(experiment="jin_sensitivity")
    before = copy.deepcopy(config)
    build_matrix(config)
    assert config == before


def test_jin_sensitivity_runs_the_hand_written_variants_under_the_same_labels():
    # Before grids: each variant written out, one parameter changed at a time.
    expected = {
        "uniform": {"method": "uniform"},
        "deformation": {"method": "deformation"},
        "deformation_sigma_frac0p08": {"method": "deformation", "options": {"sigma_frac": 0.08}},
        "deformation_sigma_frac0p17": {"method": "deformation", "options": {"sigma_frac": 0.17}},
        "deformation_module_kernel5": {"method": "deformation", "options": {"module_kernel": 5}},
        "deformation_module_kernel7": {"method": "deformation", "options": {"module_kernel": 7}},
        "deformation_input_scale0p5": {"method": "deformation", "options": {"input_scale": 0.5}},
        "deformation_input_scale1": {"method": "deformation", "options": {"input_scale": 1.0}},
        "deformation_input_scale1p5": {"method": "deformation", "options": {"input_scale": 1.5}},
        "deformation_gamma50": {"method": "deformation", "options": {"gamma": 50}},
        "deformation_gamma200": {"method": "deformation", "options": {"gamma": 200}},
    }
    methods = methods_of("jin_sensitivity")
    assert methods == expected
    assert list(methods) == list(expected)  # DAG and table order kept too


def test_jin_edge_sim_radii_runs_the_same_radii_under_generated_labels():
    assert methods_of("jin_edge_sim_radii") == {
        "uniform": {"method": "uniform"},
        **{f"edge_sim_radius{r}": {"method": "edge_sim", "options": {"radius": r}} for r in (1, 2, 4, 8)}}


def test_alcover_fig7_runs_the_same_batch_sizes_under_generated_labels():
    assert methods_of("alcover_fig7_batch") == {
        f"{method}_batch_size{b}": {"method": method, "train": {"batch_size": b}}
        for method in ("uniform", "soft_labels") for b in (1, 2, 4, 8)}


def test_alcover_table4_keeps_its_explicit_entries():
    assert list(methods_of("alcover_table4_samplers")) == [
        "uniform", "uniform_bicubic", "soft_labels", "soft_labels_label_bicubic", "soft_labels_colour_bicubic",
        "soft_labels_bicubic"]


# --- grids ---------------------------------------------------------------------------------------


def with_methods(**methods):
    # synthcity alone: synthaerial's `methods:` names labels these replaced methods lack.
    return shipped(methods=methods, datasets={"synthcity": SHIPPED["datasets"]["synthcity"]})


def test_product_grid_labels_join_keys_in_sorted_order():
    methods = build_matrix(with_methods(deformation={
        "method": "deformation", "options": {"input_scale": 1.0},
        "grid": {"sigma_frac": [0.08, 0.17], "gamma": [50, 200]}}))["methods"]
    assert list(methods) == ["deformation_gamma50_sigma_frac0p08", "deformation_gamma50_sigma_frac0p17",
                             "deformation_gamma200_sigma_frac0p08", "deformation_gamma200_sigma_frac0p17"]
    # The entry's fixed options are kept; the grid point is added to them.
    assert methods["deformation_gamma200_sigma_frac0p08"] == {
        "method": "deformation", "options": {"input_scale": 1.0, "gamma": 200, "sigma_frac": 0.08}}


def test_train_grid_updates_train_and_crosses_the_option_grid():
    methods = build_matrix(with_methods(soft_labels={
        "method": "soft_labels", "train": {"lr": 0.01},
        "grid": {"mc": [True, False]}, "train_grid": {"batch_size": [2, 8]}}))["methods"]
    assert sorted(methods) == ["soft_labels_batch_size2_mcfalse", "soft_labels_batch_size2_mctrue",
                               "soft_labels_batch_size8_mcfalse", "soft_labels_batch_size8_mctrue"]
    assert methods["soft_labels_batch_size8_mcfalse"] == {
        "method": "soft_labels", "options": {"mc": False}, "train": {"lr": 0.01, "batch_size": 8}}


def test_a_list_of_grids_is_expanded_one_grid_after_another():
    methods = build_matrix(with_methods(edge_sim={
        "method": "edge_sim", "grid": [{}, {"radius": [1, 2]}, {"mode": ["soft-bicubic"]}]}))["methods"]
    assert methods == {"edge_sim": {"method": "edge_sim"},
                       "edge_sim_radius1": {"method": "edge_sim", "options": {"radius": 1}},
                       "edge_sim_radius2": {"method": "edge_sim", "options": {"radius": 2}},
                       "edge_sim_modesoft_bicubic": {"method": "edge_sim", "options": {"mode": "soft-bicubic"}}}


@pytest.mark.parametrize("value,word", [
    (0.08, "0p08"), (1.5, "1p5"), (1.0, "1"), (-0.5, "m0p5"), (-3, "m3"), (200, "200"), (1e-05, "1em05"),
    (True, "true"), (False, "false"), ("bicubic", "bicubic"), ("soft-bicubic", "soft_bicubic")])
def test_values_are_spelled_as_label_characters(value, word):
    assert label_word(value, ()) == word


def test_a_value_that_cannot_be_spelled_is_rejected_naming_it():
    message = error_of(with_methods(uniform={"method": "uniform", "grid": {"image_mode": ["Bi Cubic"]}}))
    assert message.startswith("methods.uniform.grid.image_mode[0]:")


def test_generated_label_colliding_with_an_entry_is_rejected():
    message = error_of(with_methods(
        edge_sim_radius2={"method": "edge_sim", "options": {"radius": 2}},
        edge_sim={"method": "edge_sim", "grid": {"radius": [1, 2]}}))
    assert message.startswith("methods.edge_sim.grid.radius[1]: generated label edge_sim_radius2 is also "
                              "methods.edge_sim_radius2")


def test_generated_labels_colliding_inside_one_grid_are_rejected():
    # 1 and 1.0 are different YAML values but the same label.
    message = error_of(with_methods(deformation={"method": "deformation", "grid": {"input_scale": [1, 1.0]}}))
    assert message.startswith("methods.deformation.grid.input_scale[1]:")
    assert "deformation_input_scale1 twice" in message


def test_generated_labels_colliding_across_entries_are_rejected():
    message = error_of(with_methods(a={"method": "uniform", "grid": {"b": [1]}},
                                    a_b1={"method": "uniform", "grid": [{}]}))
    assert "generated label a_b1 is also methods.a" in message


@pytest.mark.parametrize("entry,path", [
    ({"method": "deformation", "grid": {"sigma_frac": 0.08}}, "methods.deformation.grid.sigma_frac"),
    ({"method": "deformation", "grid": {"sigma_frac": []}}, "methods.deformation.grid.sigma_frac"),
    ({"method": "deformation", "grid": [{}, {"sigma_frac": 0.08}]}, "methods.deformation.grid[1].sigma_frac"),
    ({"method": "deformation", "options": {"gamma": 1}, "grid": {"gamma": [50]}}, "methods.deformation.grid.gamma"),
    ({"method": "deformation", "train_grid": {"batch_sze": [1]}}, "methods.deformation.train_grid.batch_sze"),
    ({"method": "deformation", "train_grid": {"batch_size": [4, 0]}}, "methods.deformation.train_grid.batch_size[1]"),
    ({"method": "deformation", "train": {"iters": 5}, "train_grid": {"iters": [1]}},
     "methods.deformation.train_grid.iters"),
])
def test_bad_grids_are_named_where_they_were_written(entry, path):
    assert error_of(with_methods(deformation=entry)).startswith(f"{path}:")


def test_grids_inside_an_experiment_are_named_under_the_experiment():
    config = shipped(experiment="alcover_fig7_batch")
    config["experiments"]["alcover_fig7_batch"]["methods"]["uniform"]["train_grid"]["batch_size"] = [1, -2]
    assert error_of(config).startswith("experiments.alcover_fig7_batch.methods.uniform.train_grid.batch_size[1]:")


# --- validation: after the merge, every level closed, readable ----------------------------------


@pytest.mark.parametrize("key,value", [("iters", 0), ("batch_size", -4), ("checkpoint_every", 0), ("lr", 0),
                                       ("lr", float("inf")), ("iters", 1.5)])
def test_experiment_train_overrides_are_validated_naming_the_experiment_key(key, value):
    config = shipped(experiment="ci")
    config["experiments"]["ci"]["train"][key] = value
    assert error_of(config).startswith(f"experiments.ci.train.{key}:")


def test_an_experiment_is_checked_even_when_another_one_runs():
    config = shipped()
    config["experiments"]["low_res_long"]["train"]["batch_size"] = -4
    assert error_of(config).startswith("experiments.low_res_long.train.batch_size:")


def test_an_experiment_train_replaces_the_whole_train_so_it_must_be_complete():
    config = shipped(experiment="ci")
    config["experiments"]["ci"]["train"] = {"iters": 40}
    assert error_of(config).startswith("experiments.ci.train.batch_size: required key is missing")


@pytest.mark.parametrize("where,path", [
    (lambda c: c, "resolution"),
    (lambda c: c["datasets"]["synthcity"], "datasets.synthcity.resolution"),
    (lambda c: c["models"]["unet"], "models.unet.resolution"),
    (lambda c: c["methods"]["deformation"], "methods.deformation.resolution"),
    (lambda c: c["methods"]["deformation"].setdefault("train", {}), "methods.deformation.train.resolution"),
    (lambda c: c["train"], "train.resolution"),
    (lambda c: c["experiments"]["ci"], "experiments.ci.resolution"),
    (lambda c: c["experiments"]["jin_sensitivity"]["methods"]["deformation"],
     "experiments.jin_sensitivity.methods.deformation.resolution"),
])
def test_unknown_keys_are_rejected_at_every_level_naming_the_key(where, path):
    config = shipped()
    where(config)["resolution"] = "16x32"
    message = error_of(config)
    assert message.startswith(f"{path}: unknown key")


def test_unknown_key_suggests_the_close_one():
    config = shipped()
    config["datasets"]["synthcity"]["sized"] = config["datasets"]["synthcity"].pop("size")
    assert "did you mean size?" in error_of(config)


def test_the_old_aux_key_is_now_an_unknown_key():
    config = shipped()
    config["methods"]["edge_based"]["aux"] = config["methods"]["edge_based"].pop("prepare")
    assert error_of(config).startswith("methods.edge_based.aux: unknown key")


def test_hex_looking_resolution_is_rejected_with_a_hint_to_quote_it():
    config = shipped(**yaml.safe_load("resolutions: [0x32]"))
    assert config["resolutions"] == [50]  # what YAML makes of it
    message = error_of(config)
    assert message.startswith("resolutions[0]:") and "quote it" in message and "0x32" in message


@pytest.mark.parametrize("resolutions", [["16x32", "0x32"], ["16X32"], ["16x"]])
def test_resolutions_must_be_hxw_strings(resolutions):
    assert error_of(shipped(resolutions=resolutions)).startswith(f"resolutions[{len(resolutions) - 1}]:")


@pytest.mark.parametrize("seeds", [[-1], [0.5], ["0"]])
def test_seeds_are_non_negative_integers(seeds):
    assert error_of(shipped(seeds=seeds)).startswith("seeds[0]:")


def test_unknown_experiment_lists_the_defined_ones():
    message = error_of(shipped(experiment="jin_sensitivty"))
    assert message.startswith("experiment: unknown experiment 'jin_sensitivty'")
    assert "jin_sensitivity" in message and "alcover_fig7_batch" in message


def test_prepare_is_free_form_for_the_family_to_check():
    config = shipped()
    config["methods"]["edge_based"]["prepare"]["anything"] = [1, 2]
    assert build_matrix(config)["methods"]["edge_based"]["prepare"]["anything"] == [1, 2]


def test_a_missing_top_level_key_is_named():
    config = shipped()
    del config["seeds"]
    assert error_of(config).startswith("seeds: required key is missing")


# --- per-entry models and resolutions (Suzuki's HC runs) ----------------------------------------


def test_an_entry_runs_on_its_own_models_and_resolutions_only():
    config = with_methods(uniform={"method": "uniform"},
                          hc={"method": "hierarchical_clustering", "models": {"fcn32": {"encoder": "resnet10t"}},
                              "resolutions": ["256x512"]})
    keys = run_keys(build_matrix(config))
    assert [k for k in keys if k[1] == "hc"] == [("synthcity", "hc", "fcn32", "256x512", 0)]
    assert [k for k in keys if k[1] == "uniform"] == [("synthcity", "uniform", "unet", r, 0)
                                                      for r in SHIPPED["resolutions"]]


def test_an_entry_may_set_only_its_resolutions_and_grid_variants_keep_them():
    config = with_methods(hc={"method": "hierarchical_clustering", "resolutions": ["64x128"],
                              "grid": {"levels": [1, 2]}})
    assert run_keys(build_matrix(config)) == [("synthcity", f"hc_levels{lv}", "unet", "64x128", 0) for lv in (1, 2)]


def test_suzuki_hc_runs_exactly_the_paper_models_at_full_size():
    keys = run_keys(build_matrix(shipped(experiment="suzuki_hc")))
    assert keys == [("synthcity", label, model, "256x512", 0) for label, model in
                    [*((f"hcfcn32_levels{lv}", "fcn32") for lv in range(5)), ("atrous_fcn", "atrous_fcn"),
                     ("pspnet", "pspnet"), ("hcpspnet", "pspnet")]]


def test_suzuki_table1_runs_the_three_branches_and_the_deeplab_pair():
    keys = run_keys(build_matrix(shipped(experiment="suzuki_table1")))
    assert [(k[1], k[2]) for k in keys] == [("hcfcn32_branchidentity", "fcn32"), ("hcfcn32_branchresidual", "fcn32"),
                                            ("hcfcn32_branchblock", "fcn32"), ("deeplabv3", "deeplabv3"),
                                            ("hcdeeplabv3", "deeplabv3")]


@pytest.mark.parametrize("entry,path", [
    ({"method": "uniform", "models": {}}, "methods.uniform.models"),
    ({"method": "uniform", "models": {"fcn32": {"encoder": "resnet18", "stride": 8}}}, "methods.uniform.models.fcn32.stride"),
    ({"method": "uniform", "models": ["fcn32"]}, "methods.uniform.models"),
    ({"method": "uniform", "resolutions": []}, "methods.uniform.resolutions"),
    ({"method": "uniform", "resolutions": ["256x512", "256x512"]}, "methods.uniform.resolutions"),
    ({"method": "uniform", "resolutions": ["256X512"]}, "methods.uniform.resolutions[0]"),
    ({"method": "uniform", "models": {"FCN": {}}}, "methods.uniform.models.FCN"),
])
def test_bad_entry_models_and_resolutions_are_named(entry, path):
    message = error_of(with_methods(uniform=entry))
    assert message.startswith(f"{path}:"), message


def test_bad_entry_resolutions_inside_an_experiment_are_named_under_the_experiment():
    config = shipped(experiment="suzuki_table1")  # its DeepLabv3 pair is its own (suzuki_hc's are the default's)
    config["experiments"]["suzuki_table1"]["methods"]["hcdeeplabv3"]["resolutions"] = ["256x0"]
    assert error_of(config).startswith("experiments.suzuki_table1.methods.hcdeeplabv3.resolutions[0]:")
