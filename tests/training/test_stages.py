import torch

from training.config import LossSection
from training.models import AGLU
from training.stages import STAGES


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 64, 64, generator=g)
    return (
        x,
        torch.rand(2, 1, 64, 64, generator=g),
        (torch.rand(2, 1, 64, 64, generator=g) > 0.7).float(),
    )


def test_each_stage_changes_only_its_modules() -> None:
    """One optimiser step per stage: frozen modules (weights, BN stats) stay identical."""
    for stage in STAGES:
        model = AGLU((4, 8, 8), 4, 8)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        params = stage.prepare(model)
        opt = torch.optim.SGD(params, lr=0.1)
        terms = stage.loss(model, _batch(), LossSection())
        torch.stack(list(terms.values())).sum().backward()
        opt.step()
        after = model.state_dict()
        changed = {
            k.split(".")[0] + "." + k.split(".")[1]
            for k in before
            if not torch.equal(before[k], after[k])
        }
        allowed = {t if "." in t else f"{t}." for t in stage.trainable}
        for name in changed:
            assert any(name.startswith(a) or name + "." == a for a in allowed), (stage.name, name)
        assert changed, stage.name


def test_inference_path_ignores_the_dapi_encoder_and_qpi_decoder() -> None:
    model = AGLU((4, 8, 8), 4, 8).eval()
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        ref = model(x)[0]
        for p in (*model.dapi_vae.encoder.parameters(), *model.qpi_vae.decoder.parameters()):
            p.add_(1.0)
        assert torch.equal(model(x)[0], ref)
