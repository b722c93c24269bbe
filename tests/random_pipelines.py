"""Stable Diffusion pipelines with random weights, saved like downloaded ones, for tests and benchmarks.

Model weights cannot be downloaded on the machines mvgen is tested on, so tests build a tiny random
pipeline here, save it with ``save_pretrained`` and load it back through
:func:`mvgen.renderers.diffusion.load_pipeline`, the code path users take with a Hub id or a folder. The speed
benchmark builds the real SD-turbo architecture (Stable Diffusion 2.1: UNet, VAE and OpenCLIP-H
text encoder configurations) with random weights: speed does not depend on the weight values.
The images such pipelines draw are noise, not pictures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch


def byte_tokenizer(folder: str | os.PathLike):
    """A CLIP tokenizer whose vocabulary is the 256 byte symbols (no merges), written to ``folder``.

    Real CLIP vocabularies cannot be downloaded here; this one has the same interface.
    """
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # GPT-2's byte-to-symbol table: printable bytes map to themselves, the rest to code points >= 256
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    symbols = [chr(b) if b in printable else chr(next(extra)) for b in range(256)]
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


#: The VAE of the tiny pipelines: 2x downscaling, 4 latent channels.
_TINY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
                 down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=64)


def _turbo_scheduler():
    """SD-turbo's scheduler: Euler with trailing timesteps (so one or two steps start at pure noise)."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing",
                                  num_train_timesteps=1000, steps_offset=1)


def _pipeline(unet_kwargs: dict, vae_kwargs: dict, text_kwargs: dict, tokenizer_dir: Path, seed: int):
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = byte_tokenizer(tokenizer_dir)
    unet = UNet2DConditionModel(**unet_kwargs)
    vae = AutoencoderKL(**vae_kwargs)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=len(tokenizer) - 2, eos_token_id=len(tokenizer) - 1, pad_token_id=len(tokenizer) - 1, **text_kwargs))
    scheduler = _turbo_scheduler()
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def tiny_pipeline(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Save a tiny random SD pipeline (latents 4 x size/2, 2-block UNet) to ``folder``; returns it."""
    folder = Path(folder)
    _pipeline(
        unet_kwargs=dict(sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                         down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                         cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8),
        vae_kwargs=_TINY_VAE,
        text_kwargs=dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77, projection_dim=32),
        tokenizer_dir=folder / "_tokenizer_src",
        seed=seed,
    ).save_pretrained(folder, safe_serialization=True)
    return folder


def tiny_sdxl_pipeline(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Save a tiny random SDXL pipeline (two text encoders, pooled and time conditioning) to ``folder``."""
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = byte_tokenizer(folder / "_tokenizer_src")
    n = len(tokenizer)
    text = CLIPTextConfig(vocab_size=n, bos_token_id=n - 2, eos_token_id=n - 1, pad_token_id=n - 1, hidden_size=32, intermediate_size=64,
                          num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77, projection_dim=32, hidden_act="gelu")
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64), norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64, attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 1),
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=32 + 6 * 8,
    )
    vae = AutoencoderKL(**_TINY_VAE)
    scheduler = _turbo_scheduler()
    StableDiffusionXLPipeline(vae=vae, text_encoder=CLIPTextModel(text), text_encoder_2=CLIPTextModelWithProjection(text), tokenizer=tokenizer,
                              tokenizer_2=tokenizer, unet=unet, scheduler=scheduler).save_pretrained(folder, safe_serialization=True)
    return folder


def sd_turbo_pipeline(tokenizer_dir: str | os.PathLike, seed: int = 0):
    """The SD-turbo architecture (Stable Diffusion 2.1 at 512 px) with random weights, in memory."""
    return _pipeline(
        unet_kwargs=dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
                         down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                         up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                         cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True),
        vae_kwargs=dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=768),
        text_kwargs=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23, max_position_embeddings=77,
                         hidden_act="gelu", projection_dim=512),
        tokenizer_dir=Path(tokenizer_dir),
        seed=seed,
    )


def tiny_autoencoder(folder: str | os.PathLike, full_size: bool = False, seed: int = 0) -> Path:
    """Save a TAESD-style ``AutoencoderTiny`` with random weights (``full_size``: TAESD's own layout)."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    if full_size:
        vae = AutoencoderTiny()  # TAESD's defaults: 64 channels, 8x downscaling
    else:  # 2x downscaling, matching tiny_pipeline's VAE
        vae = AutoencoderTiny(encoder_block_out_channels=(16, 16), decoder_block_out_channels=(16, 16), num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1))
    vae.save_pretrained(folder, safe_serialization=True)
    return Path(folder)
