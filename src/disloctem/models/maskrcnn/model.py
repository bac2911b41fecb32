"""Mask R-CNN for thin lines, built without downloading weights.

Choices for thin, long, often diagonal lines (docs/design.md):
- anchors from 16 to 256 px with aspect ratios 1/8 .. 8 (a horizontal line's box is very flat,
  a diagonal line's box is square);
- training instance masks drawn ``mask_width`` = 5 px wide so the 28x28 mask head still sees the
  line in a long box;
- non-maximum suppression at IoU ``box_nms_thresh`` = 0.9 in prediction, in the box head and the
  RPN (torchvision: 0.5 and 0.7), and up to 200 detections: the nearly identical boxes of
  neighbouring lines in a pile-up must not suppress each other (with perfect boxes, 0.7 keeps
  77 % of the pile-up dislocations of the default dataset, 0.9 keeps 95 %:
  ``bench/bench_box_overlap.py``); duplicates of one line are merged as splines instead;
- no resizing: images are fed at their own size (``min_size``/``max_size`` set per image);
- trained batch norm in the backbone (``backbone_norm: batch``), as torchvision builds its
  detection models when no pretrained weights are loaded: ``resnet_fpn_backbone``'s default,
  frozen batch norm, is the identity on random weights and leaves the ResNet unnormalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign

from ... import CLASSES
from ..common import encoder_state
from ..training import TrainingConfig


@dataclass(frozen=True)
class MaskRCNNConfig(TrainingConfig):
    backbone: str = "resnet18"  # resnet18 | resnet34 | resnet50 (FPN on all)
    backbone_norm: str = "batch"  # batch: trained batch norm | frozen: fixed statistics (only after init_encoder)
    anchor_sizes: tuple[int, ...] = (16, 32, 64, 128, 256)
    aspect_ratios: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    mask_roi_size: int = 14  # RoIAlign size of the mask head; masks are predicted at twice this
    mask_width: int = 5  # width of the training instance masks, px
    min_instance_pixels: int = 20  # instances with fewer mask pixels in a crop are dropped
    box_nms_thresh: float = 0.9  # prediction: NMS IoU of the box head and the RPN (training's RPN: 0.7)
    detections_per_img: int = 200
    score_threshold: float = 0.5  # detections below this score are not turned into lines
    rpn_pre_nms_top_n_train: int = 1000  # torchvision: 2000; fewer proposals train faster on a CPU
    rpn_post_nms_top_n_train: int = 500  # torchvision: 2000
    box_batch_size_per_image: int = 256  # torchvision: 512
    classes: tuple[str, ...] = CLASSES
    batch_size: int = 2
    lr: float = 2e-4
    init_encoder: str | None = None  # a U-Net model.pt whose encoder starts the backbone (set by the workflow)

    @classmethod
    def from_dict(cls, d: dict) -> "MaskRCNNConfig":
        # models saved before the option existed have frozen batch norm
        return super().from_dict({"backbone_norm": "frozen", **d})


BACKBONE_NORMS = {"batch": torch.nn.BatchNorm2d, "frozen": FrozenBatchNorm2d}


def build_maskrcnn(cfg: MaskRCNNConfig) -> torch.nn.Module:
    """Mask R-CNN on a ResNet-FPN backbone with random weights; inputs are standardised grey
    images repeated to three channels (so the model's own normalisation is the identity)."""
    if cfg.backbone_norm not in BACKBONE_NORMS:
        raise ValueError(f"backbone_norm must be one of {sorted(BACKBONE_NORMS)}, not {cfg.backbone_norm!r}")
    backbone = resnet_fpn_backbone(backbone_name=cfg.backbone, weights=None, trainable_layers=5,
                                   norm_layer=BACKBONE_NORMS[cfg.backbone_norm])
    anchors = AnchorGenerator(sizes=tuple((s,) for s in cfg.anchor_sizes),
                              aspect_ratios=(tuple(cfg.aspect_ratios),) * len(cfg.anchor_sizes))
    return MaskRCNN(
        backbone,
        num_classes=len(cfg.classes) + 1,
        min_size=cfg.crop,
        max_size=cfg.crop,
        image_mean=[0.0, 0.0, 0.0],
        image_std=[1.0, 1.0, 1.0],
        rpn_anchor_generator=anchors,
        mask_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=cfg.mask_roi_size, sampling_ratio=2),
        box_nms_thresh=cfg.box_nms_thresh,
        box_detections_per_img=cfg.detections_per_img,
        box_score_thresh=0.05,
        rpn_pre_nms_top_n_train=cfg.rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n_train=cfg.rpn_post_nms_top_n_train,
        box_batch_size_per_image=cfg.box_batch_size_per_image,
    )


def init_backbone_from(model: torch.nn.Module, weights: str) -> None:
    """Start the ResNet backbone from a trained U-Net's encoder (same architecture): its grey
    first convolution is split evenly over the three identical input channels, so the features
    are unchanged; batch norm starts from (or, frozen, keeps) the encoder's running statistics."""
    body = model.backbone.body
    has = body.state_dict().keys()  # frozen batch norm keeps no num_batches_tracked
    state = {k: v for k, v in encoder_state(weights).items() if k in has or not k.endswith("num_batches_tracked")}
    state["conv1.weight"] = state["conv1.weight"].repeat(1, 3, 1, 1) / 3.0
    missing, unexpected = body.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("fc.") for k in missing):
        raise ValueError(f"{weights}: encoder does not fit the {type(model).__name__} backbone "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")


def set_input_size(model: torch.nn.Module, height: int, width: int) -> None:
    """Feed images of this size unscaled (torchvision otherwise resizes to ``min_size``)."""
    model.transform.min_size = (min(height, width),)
    model.transform.max_size = max(height, width)
