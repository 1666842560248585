import torch

from training.config import LossSection
from training.fit.stages import STAGES
from training.models.aglu import AGLU


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
        if "" in stage.trainable:  # the whole model (end_to_end)
            allowed = {""}
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


def test_end_to_end_has_every_auxiliary_term_and_they_all_learn() -> None:
    """One schedule: the inference path's terms plus DAPI/input reconstruction, KL, latent;
    one step moves the DAPI encoder and the input decoder (only auxiliary terms reach them)."""
    from training.fit.stages import STAGES

    stage = STAGES[-1]
    model = AGLU((4, 8, 8), 4, 8)
    params = stage.prepare(model)
    terms = stage.loss(model, _batch(), LossSection(pixel="recall_mse"))
    assert set(terms) == {"pixel", "nll", "dapi_rec", "qpi_rec", "kl", "latent"}
    before = [
        p.clone()
        for p in (*model.dapi_vae.encoder.parameters(), *model.qpi_vae.decoder.parameters())
    ]
    torch.optim.SGD(params, lr=0.1).zero_grad()
    torch.stack(list(terms.values())).sum().backward()
    torch.optim.SGD(params, lr=0.1).step()
    after = [*model.dapi_vae.encoder.parameters(), *model.qpi_vae.decoder.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_the_decoder_uses_the_encoder_skips_only_when_built_with_them() -> None:
    """Same latent, skips zeroed: the skip model's output changes, the pure-latent one's not."""
    torch.manual_seed(0)
    for skips in (True, False):
        model = AGLU((4, 8, 8), 4, 8, skips=skips).eval()
        with torch.no_grad():
            mean, _, feats = model.qpi_vae.encoder(torch.rand(1, 1, 64, 64))
            z = model.translator(mean)
            zeroed = tuple(torch.zeros_like(f) for f in feats)
            a = model.dapi_vae.decoder(z, feats)
            b = model.dapi_vae.decoder(z, zeroed)  # type: ignore[arg-type]
        assert (not torch.equal(a, b)) is skips
