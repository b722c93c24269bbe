"""What to render: :class:`RenderSettings`, checked in one place (pydantic), shared by the library
(:func:`mvgen.render`), the CLI (its flags are these fields) and batch manifests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from mvgen.brand.branding import Branding
from mvgen.delivery.formats import PRESETS, Preset, get_preset
from mvgen.renderers.diffusion import DiffusionSettings

#: Aspect presets: (width units, height units). Every one is re-framed, never squashed: the
#: procedural renderer scales its coordinates with the short side.
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}


class RenderSettings(BaseModel):
    """What to render. ``size`` is the short side in pixels (720 gives 1280x720 at 16:9)."""

    size: int = Field(720, ge=64, le=4320)
    aspect: Literal["16:9", "9:16", "1:1", "4:5"] = "16:9"
    fps: float = Field(30.0, gt=0, le=120)
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0)
    clip_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="render the strongest window of at most this many seconds, whole bars from downbeat to downbeat (mvgen.clips.best_clip)")
    loop: bool = Field(False, description="render a seamless loop (mvgen.clips.loop_window: whole bars from the first drop, at most clip_s or 8 s; or the excerpt start_s-end_s given) with periodic motion and no audio")
    renderer: Literal["procedural", "diffusion"] = "procedural"
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings, description="settings of the diffusion renderer")
    styles: str | None = Field(None, description="style file or folder overriding the defaults")
    classifier: str | None = Field(None, description="genre classifier (folder or Hub id) whose classes the styles follow; None: the bundled one")
    seed: int = 0
    branding: Branding = Field(default_factory=Branding, description="text, logo, cover, end card and lyrics of the release")
    end_card: bool = Field(True, description="end the video with the branding's end card (mvgen.brand.endcard); False for Spotify Canvas, a loop without an end")
    detail: float | None = Field(None, gt=0, le=1, description="fraction of the size the pictures are drawn at before upscaling; None: 1 on a GPU, 0.5 on a CPU")
    compile: bool | None = Field(None, description="torch.compile the renderer; None: on a CPU for renders long enough to repay the compilation")
    chunk_frames: int = Field(240, ge=1)
    batch_frames: int = Field(8, ge=1)
    format: str | None = Field(None, description="platform preset (mvgen.delivery.formats.PRESETS): sets aspect, fps and size (size may be changed), the length and the encoding")

    @field_validator("format")
    @classmethod
    def _known_format(cls, name: str | None) -> str | None:
        if name is not None and name not in PRESETS:
            raise ValueError(f"format {name!r} is not one of: {', '.join(PRESETS)}")
        return name

    @model_validator(mode="after")
    def _follow_format(self) -> "RenderSettings":
        """A format sets aspect and fps (a different one given alongside is an error) and, unless given,
        size; an excerpt or clip longer than the platform allows (or shorter) is an error up front."""
        if self.format is None:
            return self
        preset = PRESETS[self.format]
        for name, value in (("aspect", preset.aspect), ("fps", preset.fps)):
            if name in self.model_fields_set and getattr(self, name) != value:
                raise ValueError(f"{name} {getattr(self, name)} differs from the {self.format} format's {value}; leave it out (only size may be changed)")
            object.__setattr__(self, name, value)
        if "size" not in self.model_fields_set:
            object.__setattr__(self, "size", preset.size_px)
        if preset.loop:  # Spotify Canvas: a seamless loop, with no end card and no text or logo (its content policy)
            object.__setattr__(self, "loop", True)
        if not preset.allows_text and self.branding.overlay:
            object.__setattr__(self, "branding", self.branding.model_copy(update={"overlay": False}))
        asked = self.clip_s if self.clip_s else (self.end_s - self.start_s if self.end_s is not None else None)
        if asked is not None and preset.limit_duration_s is not None and asked > preset.limit_duration_s:
            raise ValueError(f"{asked:g} s is longer than the {self.format} format allows ({preset.limit_duration_s:g} s)")
        if asked is not None and preset.min_duration_s is not None and asked < preset.min_duration_s:
            raise ValueError(f"{asked:g} s is shorter than the {self.format} format needs ({preset.min_duration_s:g} s)")
        return self

    def preset(self) -> Preset | None:
        """The :class:`mvgen.delivery.formats.Preset` of :attr:`format`, or None."""
        return None if self.format is None else get_preset(self.format)

    @model_validator(mode="after")
    def _one_window(self) -> "RenderSettings":
        if self.clip_s is not None and (self.start_s or self.end_s is not None):
            raise ValueError("a clip (clip_s, --clip) picks its own window; give it without start_s/end_s (--start/--end)")
        if self.loop and self.renderer != "procedural":
            raise ValueError(f"loop: only the procedural renderer draws periodic motion (renderer: {self.renderer}); the diffusion keyframes do not loop")
        return self

    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels, both even (yuv420p needs even sizes)."""
        aw, ah = ASPECTS[self.aspect]
        short = self.size - self.size % 2
        if aw >= ah:
            return 2 * round(short * aw / ah / 2), short
        return short, 2 * round(short * ah / aw / 2)
