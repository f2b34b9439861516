"""A vision tower that reads an image as patches (Qwen2-VL's, Qwen2.5-VL's), given an image.

Such a tower takes the image cut into a sequence of patches, with the patch grid and the
indices derived from it (each patch's position, the attention windows); its processor cuts
the image and the model derives the indices from the grid's values, which the meta device has
not. `PatchTower` does both from the image's shape, outside the count (`tracer.assembling`:
the processor's work, done before the model runs), and hands them to the tower, which takes
them precomputed."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgegap.errors import UserError


class PatchTower(nn.Module):
    """`tower` fed an image (1 x channels x height x width, each side a multiple of the merged
    patch): what its language model gets is the merger's output, one token per merged
    patch."""

    def __init__(self, tower: nn.Module, config: Any, label: str, shape: tuple[int, ...] | None):
        super().__init__()
        self.tower = tower
        self.config = config
        self.label = label
        if shape is not None:
            self._grid(shape, label)

    def _grid(self, shape: tuple[int, ...], label: str) -> tuple[int, int]:
        """The patch grid of an image of `shape`: one line where it is not an image the
        processor keeps as it is."""
        side = self.config.patch_size * self.config.spatial_merge_size
        channels = self.config.in_chans
        one_image = len(shape) == 4 and shape[0] == 1 and shape[1] == channels
        if not one_image or shape[2] % side or shape[3] % side:
            raise UserError(
                f"{label} takes one image of {channels} x height x width, each side a multiple "
                f"of {side} (its merged patch), e.g. --input-shape 1,{channels},448,448; "
                f"got {'x'.join(map(str, shape))}"
            )
        return shape[2] // self.config.patch_size, shape[3] // self.config.patch_size

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        from transformers import vision_utils

        from edgegap.workload.tracer import assembling

        config = self.config
        patch, merge = config.patch_size, config.spatial_merge_size
        frames = config.temporal_patch_size
        rows, cols = self._grid(tuple(pixel_values.shape), self.label)
        channels = pixel_values.shape[1]
        with assembling():
            # the processor's cut: the image repeated over the temporal patch, patches in
            # merge-block order, each patch flattened (channels x frames x patch x patch)
            image = pixel_values.expand(frames, channels, *pixel_values.shape[2:])
            blocks = image.reshape(
                1, frames, channels, rows // merge, merge, patch, cols // merge, merge, patch
            )
            patches = blocks.permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(
                rows * cols, channels * frames * patch * patch
            )
            grid = torch.tensor([[1, rows, cols]])
            cu_seqlens, _ = vision_utils.get_vision_attention_seqlens(grid, config)
            window_index, cu_window_seqlens = vision_utils.get_vision_window_index(
                grid, spatial_merge_size=merge, window_size=config.window_size, patch_size=patch
            )
            indices = {
                "position_ids": vision_utils.get_vision_position_ids(grid, merge),
                "cu_seqlens": cu_seqlens,
                "window_index": window_index,
                "cu_window_seqlens": cu_window_seqlens,
            }
        output: torch.Tensor = self.tower(patches, grid_thw=grid, **indices).pooler_output
        return output
