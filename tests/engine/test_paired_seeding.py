"""Paired comparisons (issue 18 item 6): for one seed, every method's segmentation network starts
from the same weights and sees the same batches and augmentations; the parts' streams are
independent (benchmark.engine.seeding) and a resumed run stays bit-equal."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import methods  # noqa: F401  registers every method
from benchmark.data import DATASETS, build_dataset
from benchmark.data.transforms import train_transform
from benchmark.engine import train as train_module
from benchmark.engine.pipeline import SegmentationPipeline
from benchmark.engine.run_config import RunConfig
from benchmark.engine.seeding import AUGMENT, BATCHES, FORWARD, MODEL, PARTS, part_generator, part_seed, seeded
from benchmark.engine.train import CHECKPOINT, FINAL, build_pipeline, load_checkpoint, train
from benchmark.models import build_model
from methods.edge_based.method import make_untrained_checkpoint

ENCODER = "mobilenetv3_small_050"
PAIRED = ("uniform", "edge_based", "deformation", "deformation_single", "interpolation", "soft_labels", "edge_sim")


@pytest.fixture(scope="module")
def aux_checkpoint(tmp_path_factory):
    return make_untrained_checkpoint(tmp_path_factory.mktemp("aux") / "aux.pt", size_in=(32, 64), size_out=(8, 16),
                                     features=8)


def config(root, out, method="uniform", aux=None, **kw):
    options = {"aux_checkpoint": aux} if method == "edge_based" else {}
    base = dict(dataset="synthcity", root=str(root), method=method, model="unet", encoder=ENCODER,
                resolution=(16, 32), seed=0, out=str(out), iters=3, batch_size=2, checkpoint_every=100,
                device="cpu", method_options=options)
    base.update(kw)
    return RunConfig(**base)


def assert_same_state(a, b, what=""):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: {key}"


def test_part_seeds_are_stable_distinct_and_documented():
    # The derivation is part of every trained number: a change here must be deliberate.
    assert part_seed(0, MODEL) == part_seed(0, MODEL) == 1673643018414359170
    seeds = {part_seed(s, p) for s in (0, 1, 2) for p in PARTS}
    assert len(seeds) == 3 * len(PARTS) and all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(ValueError, match="unknown seeding part"):
        part_seed(0, "modle")


def test_every_method_starts_its_network_from_the_same_weights(tmp_path, aux_checkpoint):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    states = {m: build_pipeline(config(tmp_path, tmp_path / m, m, aux_checkpoint)).model.state_dict() for m in PAIRED}
    assert torch.equal(torch.get_rng_state(), before)  # building draws nothing from the global generator
    for m in PAIRED[1:]:
        assert_same_state(states["uniform"], states[m], m)
    # ... and those weights depend on (seed, model, num_classes) alone
    with seeded(0, MODEL):
        bare = build_model("unet", DATASETS.get("synthcity").num_classes, encoder=ENCODER)
    assert_same_state(states["uniform"], bare.state_dict(), "bare model")


def test_another_seed_gives_other_initial_weights(tmp_path):
    a = build_pipeline(config(tmp_path, tmp_path / "a")).model.state_dict()
    b = build_pipeline(config(tmp_path, tmp_path / "b", seed=1)).model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())
    again = build_pipeline(config(tmp_path, tmp_path / "c", "deformation", seed=1)).model.state_dict()
    assert_same_state(b, again, "seed 1")


def noisy_forward(monkeypatch):
    """Every training forward draws from the global generator (dropout on the input) an amount
    that depends on the method, as a method with random sampling would."""
    original = SegmentationPipeline.training_loss

    def training_loss(self, image_hr, labels_hr):
        torch.rand(1 if self.method.name == "uniform" else 17)
        return original(self, F.dropout(image_hr, 0.2, training=True), labels_hr)

    monkeypatch.setattr(SegmentationPipeline, "training_loss", training_loss)


def record_batches(monkeypatch):
    seen = []
    original = train_module._collate

    def collate(samples, device):
        batch = original(samples, device)
        seen.append({k: v.clone() for k, v in batch.items()})
        return batch

    monkeypatch.setattr(train_module, "_collate", collate)
    return seen


def test_every_method_sees_the_same_batches_and_augmentations(tiny_city, tmp_path, monkeypatch):
    noisy_forward(monkeypatch)
    seen = record_batches(monkeypatch)
    runs = {}
    for method in ("uniform", "deformation", "soft_labels"):
        seen.clear()
        assert train(config(tiny_city, tmp_path / method, method), progress=False)["status"] == "ok"
        runs[method] = list(seen)
    assert len(runs["uniform"]) == 3
    for method in ("deformation", "soft_labels"):
        for it, (a, b) in enumerate(zip(runs["uniform"], runs[method])):
            assert torch.equal(a["image"], b["image"]), (method, it)
    # nearest labels alike (soft labels are class fractions of the same crops)
    for a, b in zip(runs["uniform"], runs["deformation"]):
        assert torch.equal(a["labels"], b["labels"])
    assert runs["soft_labels"][0]["labels"].is_floating_point()


def test_batches_augmentations_and_forward_draw_from_their_own_streams(tiny_city, tmp_path, monkeypatch):
    forward_states = []
    original = SegmentationPipeline.training_loss

    def training_loss(self, image_hr, labels_hr):
        forward_states.append(torch.get_rng_state())
        return original(self, image_hr, labels_hr)

    monkeypatch.setattr(SegmentationPipeline, "training_loss", training_loss)
    indices = []
    original_getitem = train_module.CachedSplit.__getitem__

    def getitem(self, index):
        indices.append(index)
        return original_getitem(self, index)

    monkeypatch.setattr(train_module.CachedSplit, "__getitem__", getitem)
    seen = record_batches(monkeypatch)
    cfg = config(tiny_city, tmp_path / "run", iters=2)
    train(cfg, progress=False)
    # the first forward sees the global generator exactly as seeded for the forward part
    assert torch.equal(forward_states[0], torch.Generator().manual_seed(part_seed(0, FORWARD)).get_state())
    # the batch order comes from the batches stream: the same draws as a fresh generator of that seed
    expected = torch.Generator().manual_seed(part_seed(0, BATCHES))
    assert indices == [i for _ in range(2) for i in torch.randint(6, (2,), generator=expected).tolist()]
    # the augmentations come from the augment stream, sample after sample
    augment, generator = train_transform(crop=cfg.crop, scale_range=cfg.scale_range), part_generator(0, AUGMENT)
    dataset = build_dataset("synthcity", str(tiny_city), "train")
    for it, batch in enumerate(seen):
        images = torch.stack([augment(dataset[i], generator)["image"] for i in indices[2 * it:2 * it + 2]])
        assert torch.equal(batch["image"], images), it
    assert part_seed(0, AUGMENT) != part_seed(0, BATCHES)


@pytest.mark.parametrize("method", ["deformation", "interpolation"])
def test_resume_is_bit_equal_with_a_random_forward(tiny_city, tmp_path, monkeypatch, method):
    noisy_forward(monkeypatch)
    kw = dict(iters=5, checkpoint_every=2)
    assert train(config(tiny_city, tmp_path / "a", method, **kw), progress=False)["status"] == "ok"
    out = tmp_path / "b"
    assert train(config(tiny_city, out, method, **kw), progress=False, stop_after=3)["status"] == "interrupted"
    state = load_checkpoint(out / CHECKPOINT)
    assert {"generator", "augment_generator", "torch_rng"} <= set(state)
    assert train(config(tiny_city, out, method, **kw), progress=False)["status"] == "ok"
    a = torch.load(tmp_path / "a" / FINAL, weights_only=True)["pipeline"]
    b = torch.load(out / FINAL, weights_only=True)["pipeline"]
    assert_same_state(a, b, method)


def test_a_checkpoint_from_before_the_split_streams_still_resumes(tiny_city, tmp_path):
    out = tmp_path / "run"
    train(config(tiny_city, out, iters=4), progress=False, stop_after=1)
    state = load_checkpoint(out / CHECKPOINT)
    del state["augment_generator"]  # one generator drew the batches and the augmentations
    torch.save(state, out / CHECKPOINT)
    train(config(tiny_city, out, iters=4), progress=False, stop_after=1)
    assert "augment_generator" not in load_checkpoint(out / CHECKPOINT)  # it stays one generator
    assert train(config(tiny_city, out, iters=4), progress=False)["status"] == "ok"
    assert Path(out / FINAL).is_file()
