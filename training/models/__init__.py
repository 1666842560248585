"""Model architectures: plain nn.Modules shared by training, export and evaluation.

- ``aglu`` (with ``vae``, ``translator``, ``blocks``): the attention-gated latent U-Net
- ``unet``, ``fnet``, ``ddpm``: the baselines
- ``build``: the recipe's model (``build_model``) and checkpoints (``load_checkpoint``)
"""
