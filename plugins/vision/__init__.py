"""Real model families: torchvision's image classifiers, trained, fine-tuned and served by zoo.

The lessons before this one build small networks by hand; this plugin registers every
classification architecture of the installed torchvision (``torchvision.models.list_models``: 80
in torchvision 0.29, from AlexNet and VGG through ResNet, MobileNet, EfficientNet, RegNet and
ConvNeXt to ViT, Swin and MaxViT) under torchvision's own names, so ``zoo train resnet18`` trains
torchvision's ResNet-18 in zoo's loop. The architectures and their pretrained weights are
torchvision's (the weights' accuracies shown are torchvision's figures, from each weights'
``meta``); what zoo adds is what a hand loop around them would otherwise do:

- the model fits the data: the dataset implies ``n_classes``, ``in_channels``, ``image_size`` and
  the class names; grey images are repeated to the three channels the stem expects (so pretrained
  stems keep working), and images smaller than an architecture's smallest input (``min_size`` in
  torchvision's weights: 32 pixels for VGG and ConvNeXt, 75 for Inception, 224 for ViT, Swin and
  MaxViT; 1 for ResNet and MobileNet, which take 28x28 digits as they are) are resized up to it in
  the model, not in a data pipeline; trained from scratch, ViT and Swin are built for the data
  instead (224 is their weights' size, not their architecture's): a ViT at the image size rounded
  up to whole patches (32 px for ViT-B/16 on MNIST: 4 patches, not 196), a Swin from 32 px;
  MaxViT's windows need multiples of 224 px, so it stays there;
- batch norms average their running statistics at PyTorch's momentum, 0.1 (``bn_momentum``):
  torchvision keeps its reference recipes' 0.01 for MobileNetV3, EfficientNet and MaxViT (MNASNet
  0.0003), made for ImageNet's long runs, after one short epoch those statistics are still the
  initial ones and evaluation sees chance;
- the model normalizes its input with the weights' mean and standard deviation, so training,
  ``zoo predict`` and ``zoo export`` all feed it images in [0, 1] and cannot disagree;
- ``--set pretrained=true`` loads torchvision's default weights from torch's cache (downloaded
  there when online, never tried with ``ZOO_OFFLINE=1``; offline, one line names the file and
  the folder), read with
  ``weights_only=True`` and checked key by key; the head is replaced when the class count differs,
  and ``--set freeze=backbone`` trains the head alone;
- datasets ``fashion-mnist``, ``cifar10`` and ``image-folder`` (``--set root=DIR``: torchvision's
  ImageFolder layout, split by a seeded fraction or by ``train/`` and ``val/``) are decoded once
  into memory when they fit, so batches are slices; ``augment=true`` adds transforms.v2's random
  crop and flip, read through a DataLoader (``--workers N``);
- ``zoo list`` stays torch-free: the names and facts come from ``index.json``, generated from
  torchvision by ``python -m zoo_plugins.vision.index``; with another torchvision version the
  plugin lists live and says how to regenerate it. ``zoo list models --tag resnet`` filters by
  family, ``--tag pretrained`` by weights;
- the recipe is one epoch of Adam at 1e-3 in batches of 64; AlexNet and the VGGs without batch
  norm take 1e-4, at which they learn (at 1e-3 their loss did not move in 20 steps), and so do ViT
  and Swin, which have no warm-up here (one MNIST epoch at 1e-3: 0.53 and 0.67 test accuracy;
  at 1e-4: 0.92 and 0.95);
- ``zoo check vision`` builds and trains each family's smallest member (20 of 80): the others are
  the same code at another size, registered ``checked_as`` it; ``zoo check vit_l_16`` checks one
  itself. The 17 convolutional ones take about 9 minutes on one CPU thread, ViT and the two Swins
  about 5 more; MaxViT works at 224 pixels and takes far longer.
"""

from __future__ import annotations

from zoo_core import hookimpl

LESSON = "701 vision"
#: recipes measured over seeds (see expects=): one epoch of the 8,000-digit MNIST split
MEASURED = {
    # measured 0.944 (seed 0, AVX-512 kernels) and 0.947 (seed 1, ATEN_CPU_CAPABILITY=default);
    # batches of 64, Adam 1e-3, 160 s on 2 busy cores
    "resnet18": {"accuracy": (">=", 0.90)},
    # measured 0.8965, 0.9095, 0.8950 (seeds 0-2, AVX-512 kernels), 0.8975 (seed 3, default kernels),
    # 0.872 (seed 4, AVX2 kernels); 30-48 s on 2 busy cores. With torchvision's batch-norm momentum (0.01): 0.08-0.10
    "mobilenet_v3_small": {"accuracy": (">=", 0.84)},
}


#: Adam's rate for the recipe, and a tenth of it for two kinds of architecture. AlexNet and the VGGs
#: without batch norm: at 1e-3 twenty steps did not lower their loss on a fixed batch (zoo check:
#: alexnet 2.305 -> 2.328, vgg11 2.31 -> 2.309), and 60 steps on the MNIST split reached 0.36 test
#: accuracy against 0.73 at 1e-4. ViT and Swin from scratch, with no warm-up: one epoch of the MNIST
#: split (seed 0) gave vit_b_16 0.53 test accuracy at 1e-3 and 0.92 at 1e-4, swin_t 0.67 and 0.95
LR, LR_LOW = 1e-3, 1e-4
#: the transformer families that take the lower rate; MaxViT (convolutions with batch norm, then
#: attention) learns at 1e-3: 20 steps on a fixed batch of 16 digits, 2.288 -> 1.254 (1.092 at 1e-4)
LOW_RATE_FAMILIES = ("vit", "swin")


def recipe_lr(row: dict) -> float:
    """The recipe's learning rate: lower for the architectures without normalization layers, and for transformers."""
    plain = row["family"] == "alexnet" or (row["family"] == "vgg" and not row["name"].endswith("_bn"))
    return LR_LOW if plain or row["family"] in LOW_RATE_FAMILIES else LR


def summary(row: dict) -> str:
    """One line for ``zoo list``: size, input, what happens to small images, torchvision's accuracy."""
    parts = [
        f"torchvision {row['name']} ({row['family']}): {row['params'] / 1e6:.1f}M params, {row.get('crop_size', 224)} px"
    ]
    scratch = from_scratch(row)
    if row.get("min_size", 1) > 1:
        lead = "with its weights, " if scratch else ""
        parts.append(f"{lead}images under {row['min_size']} px resized up to it (its smallest input)")
    else:
        parts.append("any input size")
    if scratch:
        parts.append(f"trained from scratch, {scratch}")
    if row.get("acc1") is not None:
        parts.append(f"ImageNet top-1 {row['acc1']:.1f}% with its weights (torchvision)")
    return "; ".join(parts)


def from_scratch(row: dict) -> str:
    """What changes for an architecture trained without its weights, in words (``index.scratch_rule``)."""
    from zoo_plugins.vision.index import scratch_rule

    rule = scratch_rule(row)
    if rule is None:
        return ""
    kind, pixels = rule
    return (
        f"built at the data's size in whole {pixels}-px patches"
        if kind == "patches"
        else f"images of {pixels} px and up"
    )


@hookimpl
def register_models(registry):
    from zoo_plugins.vision.index import load, smallest_by_family

    rows = load()
    checked = smallest_by_family(rows)  # the rest of a family is the same code, larger
    for row in rows:
        stand_in = checked[row["family"]]
        registry.add(
            row["name"],
            factory=f"zoo_plugins.vision.nets:{row['name']}",
            summary=summary(row),
            lesson=LESSON,
            tags=["vision", "classification", "images", "torchvision", row["family"]]
            + (["pretrained"] if row.get("weights") else []),
            defaults={
                "n_classes": row.get("categories", 1000),
                "in_channels": 3,
                "image_size": row.get("crop_size", 224),
                "classes": [],
                "pretrained": False,
                "freeze": "none",
                "channels_last": False,
                "bn_momentum": 0.1,
            },
            dataset="mnist",
            optimizer="adam",
            trainer="image-classifier",
            recipe={"lr": recipe_lr(row), "epochs": 1, "batch_size": 64},
            predictor="zoo_plugins.vision.predict:Images",
            expects=MEASURED.get(row["name"]),
            checked_as=None if stand_in == row["name"] else stand_in,
        )


@hookimpl
def register_datasets(registry):
    registry.add(
        "fashion-mnist",
        factory="zoo_plugins.vision.data:fashion_mnist",
        summary="Fashion-MNIST (Zalando): 1x28x28 clothes in 10 classes; eval = first 2,000 test images",
        lesson=LESSON,
        tags=["images", "classification", "download"],
        defaults={"train_size": None, "eval_size": 2000, "augment": False, "download": True},
    )
    registry.add(
        "cifar10",
        factory="zoo_plugins.vision.data:cifar10",
        summary="CIFAR-10: 3x32x32 colour images in 10 classes; augment=true: random crop and flip",
        lesson=LESSON,
        tags=["images", "classification", "download"],
        defaults={"train_size": None, "eval_size": None, "augment": False, "download": True},
    )
    registry.add(
        "image-folder",
        factory="zoo_plugins.vision.data:image_folder",
        summary="Your images: --set root=DIR, one sub-folder per class (or train/ and val/), as size x size",
        lesson=LESSON,
        tags=["images", "classification", "files"],
        defaults={"root": "", "size": 64, "val_fraction": 0.2, "grey": False, "augment": False},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "image-classifier",
        factory="zoo_plugins.vision.train:ImageClassifier",
        summary="Cross-entropy on images; the first batch checked against the model's channels and classes",
        lesson=LESSON,
        tags=["supervised", "classification", "images"],
        defaults={"loss": "cross_entropy", "eval_batch_size": 256},
    )
