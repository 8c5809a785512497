"""CUDA paths: AMP training, every method of every track on the device, the barycentric
unsampler against the CPU kernel, synchronised latency, a short training of each model family."""
import pytest
import torch

import methods  # noqa: F401  registers every method
from benchmark.cost.timing import measure_latency
from benchmark.engine.evaluate import evaluate_run
from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import FINAL, build_pipeline, train
from benchmark.ops.barycentric import unsample_barycentric
from benchmark.registry import METHODS, NETWORK_METHODS, SUPERPIXEL_METHODS
from benchmark.results import read_rows

ENCODER = "resnet18"
CUDA = "cuda"


def run_config(root, out, **settings):
    base = dict(dataset="synthcity", root=str(root), method="uniform", model="unet", encoder=ENCODER,
                resolution=(32, 64), out=str(out), iters=2, batch_size=2, checkpoint_every=1, device=CUDA)
    return RunConfig(**{**base, **settings})


def method_options(name, tmp_path):
    """Options a method needs to run at all (a file it reads); empty for most."""
    if name == "edge_based":
        from methods.edge_based.method import make_untrained_checkpoint

        return {"aux_checkpoint": make_untrained_checkpoint(tmp_path / "aux.pt")}
    return {}


def test_amp_training_on_cuda_runs_two_iterations_and_evaluates(gpu_city, tmp_path):
    result = train(run_config(gpu_city, tmp_path / "run"), progress=False)
    assert result["status"] == "ok" and result["final_loss"] == result["final_loss"]  # not NaN
    weights = torch.load(tmp_path / "run" / FINAL, weights_only=True)["pipeline"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    rows = read_rows(evaluate_run(tmp_path / "run", device=CUDA, progress=False))
    assert 0.0 <= rows.query("metric == 'miou'")["value"].item() <= 1.0


@pytest.mark.parametrize("name", [*METHODS.keys(), *NETWORK_METHODS.keys()])
def test_every_pipeline_method_runs_one_forward_on_cuda(gpu_city, tmp_path, name):
    model = "fcn32" if name in NETWORK_METHODS else "unet"
    cfg = run_config(gpu_city, tmp_path / name, method=name, model=model,
                     method_options=method_options(name, tmp_path))
    pipeline = build_pipeline(cfg).to(CUDA).eval()
    assert all(p.device.type == "cuda" for p in pipeline.parameters())
    image = torch.rand(1, 3, 64, 128, device=CUDA)
    labels = torch.randint(0, 19, (1, 64, 128), device=CUDA)
    with torch.no_grad():
        logits, grid = pipeline.predict(image, labels)
    assert logits.device.type == "cuda" and grid.device.type == "cuda"
    assert logits.shape == (1, 19, 64, 128) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", SUPERPIXEL_METHODS.keys())
def test_every_superpixel_method_segments_a_cuda_image(name):
    method = SUPERPIXEL_METHODS.get(name)()
    if isinstance(method, torch.nn.Module):
        method = method.to(CUDA).eval()
    with torch.no_grad():
        labels = method.segment(torch.rand(3, 48, 64, device=CUDA), 24)
    assert labels.shape == (48, 64) and labels.dtype == torch.int64


def test_barycentric_unsampler_on_cuda_matches_the_cpu_kernel():
    from methods.deformation.sampler import deformed_grid

    torch.manual_seed(0)
    density = torch.rand(2, 1, 16, 32) + 0.1
    grid = deformed_grid(density, 4.0, (8, 16))                       # a non-uniform grid
    logits = torch.randn(2, 5, 8, 16, requires_grad=True)
    cpu = unsample_barycentric(logits, grid, (64, 128))
    logits_cuda = logits.detach().to(CUDA).requires_grad_()
    gpu = unsample_barycentric(logits_cuda, grid.to(CUDA), (64, 128))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-5)
    cpu.square().sum().backward()
    gpu.square().sum().backward()
    torch.testing.assert_close(logits_cuda.grad.cpu(), logits.grad, atol=1e-4, rtol=1e-4)


def test_latency_waits_for_the_device():
    a = torch.rand(4096, 4096, device=CUDA)
    # An asynchronous matmul returns at once; synchronised timing sees the work.
    one = measure_latency(lambda: a @ a, warmup=2, repeats=5, device=CUDA)
    ten = measure_latency(lambda: [a @ a for _ in range(10)], warmup=2, repeats=5, device=CUDA)
    assert one > 0 and ten > 3 * one


@pytest.mark.parametrize("method,model", [
    ("uniform", "unet"), ("uniform", "fcn32"), ("uniform", "pspnet"), ("uniform", "deeplabv3"),
    ("hierarchical_clustering", "fcn32"), ("hierarchical_clustering", "pspnet"),
    ("hierarchical_clustering", "fpn"), ("hierarchical_clustering", "deeplabv3"),
])
def test_each_model_family_trains_briefly_on_cuda(gpu_city, tmp_path, method, model):
    result = train(run_config(gpu_city, tmp_path / f"{method}-{model}", method=method, model=model, iters=4),
                   progress=False)
    assert result["status"] == "ok"
    rows = read_rows(tmp_path / f"{method}-{model}" / "train.csv")
    loss = rows.query("metric == 'train_loss'")["value"]
    assert len(loss) and loss.notna().all()
