"""Datasets by name (`--set`) and the two loaders: host (torch DataLoader) and device-resident.

Small image sets (CIFAR, digits, synthetic) are held as one uint8 tensor N x 3 x H x W (`.images`)
with int64 `.targets`, so that `DeviceLoader` can keep the whole subset on the accelerator and
augment a batch in one batched op; `HostLoader` applies the same augmentation per sample with
torchvision transforms. Both draw their order from a generator seeded by (seed, epoch), so a
resumed run sees the same batches as an uninterrupted one.

Image folders (`folder`, `imagenet`) are read by image_folders.py, imported only when such a set is read: it
brings torchvision, whose import costs a start about 1.5 s that runs on the in-memory sets need not pay.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import math
import pickle
import signal
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from utils import DataNotFound, UserError

DATASETS = ("cifar10", "cifar100", "digits", "synthetic", "folder", "imagenet")

CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PADDING = 4  # RandomCrop(32, padding=4) of the CIFAR pipeline: 1/8 of the side
DIGITS_SPLIT_SEED = 0  # fixed: the digits test split must not move with --seed
SYNTHETIC_SEED = 0
# fixed, not --seed: every run (and ensemble.py) holds out the same images, whatever its seed
SPLIT_SEED = 0


@dataclass
class DatasetInfo:
    """What a model needs to know about a dataset."""

    name: str
    num_classes: int
    image_size: int
    mean: tuple
    std: tuple
    split: dict | None = None  # how the training set was split (split_dataset's record), once split
    classes: tuple[str, ...] | None = None  # an image folder's class names in label order (train/'s folders)
    notes: tuple[str, ...] = ()  # warnings about the data, for the run's log (stdout and log.txt)


def crop_padding(image_size: int) -> int:
    """Zero padding of the random crop: 1/8 of the side (CIFAR's 4 at 32 px, 1 at 8 px), at least 1."""
    return max(image_size // 8, 1)


def default_cutout_length(image_size: int) -> int:
    """DARTS's cutout of 16, but at most half the side (a 16-pixel square would blank an 8-pixel image)."""
    return max(min(16, image_size // 2), 1)


# --------------------------------------------------------------------------- transforms


class Cutout:
    """Zero one square of side `length` centred at a uniform pixel, clipped at the borders (DARTS).

    Applied after normalisation, so the square is 0 in normalised space; uses torch's RNG so that
    seeding and resume are exact.
    """

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        cy = int(torch.randint(h, (1,)))
        cx = int(torch.randint(w, (1,)))
        half = self.length // 2
        y1, y2 = max(cy - half, 0), min(cy + half, h)
        x1, x2 = max(cx - half, 0), min(cx + half, w)
        img = img.clone()
        img[..., y1:y2, x1:x2] = 0.0
        return img


class _ToFloat:
    """uint8 tensor -> float in [0, 1] (what ToTensor does for PIL images)."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img.float().div_(255.0)


def _tensor_transform(image_size: int, mean: Sequence[float], std: Sequence[float], *, augment: bool,
                      cutout: bool, cutout_length: int, padding: int,
                      flip: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """The CIFAR pipeline on uint8 CHW tensors (same ops as on PIL images)."""
    from torchvision import transforms as T

    ops: list[Any] = []
    if augment:
        ops.append(T.RandomCrop(image_size, padding=padding))
        if flip:
            ops.append(T.RandomHorizontalFlip())
    ops += [_ToFloat(), T.Normalize(mean, std)]
    if augment and cutout:
        ops.append(Cutout(cutout_length))
    return T.Compose(ops)


class _HostTransform:
    """_tensor_transform of these arguments, built at its first image.

    Only the host loader reads a TensorImageDataset item by item; the device loader augments whole batches
    itself. Built eagerly, every run paid torchvision's import (about 1.5 s) for a transform it never called.
    HostLoader builds it as it is made, in the process its workers fork from (each pass's new workers would
    otherwise import torchvision again). Picklable (a module-level class), so DataLoader workers started by spawn
    get it as before.
    """

    def __init__(self, image_size: int, mean: Sequence[float], std: Sequence[float], **options: Any) -> None:
        self.image_size, self.mean, self.std, self.options = image_size, mean, std, options
        self._built: Callable[[torch.Tensor], torch.Tensor] | None = None

    def built(self) -> Any:
        """The torchvision Compose (built now if it is not yet)."""
        if self._built is None:
            self._built = _tensor_transform(self.image_size, self.mean, self.std, **self.options)
        return self._built

    @property
    def transforms(self) -> list[Any]:
        """The ops in order, as Compose.transforms."""
        return self.built().transforms

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return self.built()(img)


# --------------------------------------------------------------------------- in-memory datasets


class TensorImageDataset(Dataset):
    """uint8 images (N x 3 x H x W) + int64 labels, with the host transform applied per sample.

    The attributes `images`, `targets`, `mean`, `std`, `augment`, `cutout`, `cutout_length`,
    `padding`, `flip` let DeviceLoader reproduce the same transform on the accelerator. The crop's
    padding scales with the side (crop_padding); `flip=False` where a mirror image is another class
    (digits). `sequential_split` says the samples are in random class order, so the original's
    unshuffled train/held-out split is fair (split_dataset); unknown sets get a stratified one.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, *, mean: Sequence[float],
                 std: Sequence[float], augment: bool, cutout: bool = False, cutout_length: int = 16,
                 classes: Sequence[str] | None = None, flip: bool = True,
                 sequential_split: bool = False) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.size(1) != 3:
            raise ValueError(f"images must be uint8 N x 3 x H x W, got {tuple(images.shape)} {images.dtype}")
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        self.images = images.contiguous()
        self.targets = torch.as_tensor(targets, dtype=torch.int64)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment = augment
        self.cutout = bool(augment and cutout)
        self.cutout_length = cutout_length
        self.padding = crop_padding(images.size(-1))
        self.flip = flip
        self.sequential_split = sequential_split
        n_classes = int(self.targets.max()) + 1 if len(self.targets) else 0
        self.classes = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
        self.transform = _HostTransform(images.size(-1), self.mean, self.std, augment=augment,
                                        cutout=self.cutout, cutout_length=cutout_length,
                                        padding=self.padding, flip=flip)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[index]), int(self.targets[index])


def _channel_stats(images: torch.Tensor) -> tuple[tuple, tuple]:
    """Per-channel mean/std of uint8 images in [0, 1] units (deterministic: no sampling)."""
    x = images.to(torch.float64).div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3))
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def _pair(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
          mean: Sequence[float], std: Sequence[float], cutout: bool, cutout_length: int,
          classes: Sequence[str] | None = None, *, flip: bool = True,
          sequential_split: bool = False) -> tuple[TensorImageDataset, TensorImageDataset]:
    train = TensorImageDataset(train_x, train_y, mean=mean, std=std, augment=True, cutout=cutout,
                               cutout_length=cutout_length, classes=classes, flip=flip,
                               sequential_split=sequential_split)
    test = TensorImageDataset(test_x, test_y, mean=mean, std=std, augment=False, classes=classes, flip=flip,
                              sequential_split=sequential_split)
    return train, test


# --------------------------------------------------------------------------- CIFAR


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Reads CIFAR's python-format batches, torchvision's standard files the user downloaded.

    Those files are pickles of dicts of numpy arrays, lists and strings; this unpickler resolves
    only the few numpy reconstruction functions such files need and refuses every other global,
    so a tampered file cannot run code.
    """

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR file")
        candidates = [module]
        if module.startswith("numpy.core"):
            candidates.insert(0, "numpy._core" + module[len("numpy.core"):])
        elif module.startswith("numpy._core"):
            candidates.append("numpy.core" + module[len("numpy._core"):])
        for candidate in candidates:
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot resolve {module}.{name}")


def _read_cifar_file(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            entry = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise UserError(f"{path} is not a CIFAR python-format file ({e})") from None
    if not isinstance(entry, dict):
        raise UserError(f"{path} is not a CIFAR python-format file (no dict inside)")
    return entry


def _cifar_batch(path: Path, entry: dict, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch's images (N x 3 x 32 x 32 uint8) and labels, checked: a damaged file is one line naming it. Unchecked,
    labels that were no list were a TypeError traceback, and pixels outside 0..255 (or fractions) wrapped silently
    into other bytes."""
    if "data" not in entry or label_key not in entry:
        raise UserError(f"{path} lacks the 'data'/'{label_key}' entries of a CIFAR batch")
    pixels, labels = np.asarray(entry["data"]), np.asarray(entry[label_key])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"{path} is not a CIFAR batch: its '{label_key}' are no list of integer labels")
    if not np.issubdtype(pixels.dtype, np.integer) or pixels.ndim < 1 or len(pixels) != len(labels) \
            or pixels.size != len(labels) * 3 * 32 * 32:
        raise UserError(f"{path} is not a CIFAR batch: its 'data' ({pixels.dtype}, shape {pixels.shape}) are not "
                        f"{len(labels)} rows of 3 x 32 x 32 8-bit pixels, one a label")
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise UserError(f"{path} is not a CIFAR batch: its pixels run from {pixels.min()} to {pixels.max()}, "
                        f"not within 0..255")
    return pixels.astype(np.uint8).reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_cifar_batches(paths: Sequence[Path], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for path in paths:
        pixels, batch_labels = _cifar_batch(path, _read_cifar_file(path), label_key)
        images.append(pixels)
        labels.append(batch_labels)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _load_cifar(name: str, root: Path, *, download: bool, cutout: bool,
                cutout_length: int) -> tuple[TensorImageDataset, TensorImageDataset, DatasetInfo]:
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        test_files, meta_file, meta_key, label_key = ["test_batch"], "batches.meta", "label_names", "labels"
        mean, std, num_classes, tv_name, pretty = CIFAR10_MEAN, CIFAR10_STD, 10, "CIFAR10", "CIFAR-10"
    else:
        folder = root / "cifar-100-python"
        train_files, test_files = ["train"], ["test"]
        meta_file, meta_key, label_key = "meta", "fine_label_names", "fine_labels"
        mean, std, num_classes, tv_name, pretty = CIFAR100_MEAN, CIFAR100_STD, 100, "CIFAR100", "CIFAR-100"

    def missing() -> list[str]:
        return [f for f in train_files + test_files if not (folder / f).is_file()]

    if missing() and download:
        from torchvision import datasets as tv_datasets

        root.mkdir(parents=True, exist_ok=True)
        # fetches and md5-checks the archive
        getattr(tv_datasets, tv_name)(root=str(root), train=True, download=True)
    if missing():
        raise DataNotFound(f"{pretty} not found: looked for {folder} (missing {', '.join(missing())}); "
                           f"pass --download to fetch it, or put torchvision's python-format folder "
                           f"'{folder.name}' under --data {root}")
    train_x, train_y = _read_cifar_batches([folder / f for f in train_files], label_key)
    test_x, test_y = _read_cifar_batches([folder / f for f in test_files], label_key)
    classes = None
    if (folder / meta_file).is_file():
        names = _read_cifar_file(folder / meta_file).get(meta_key)
        if isinstance(names, list) and len(names) == num_classes:
            classes = [str(c) for c in names]
    for y, split in ((train_y, "train"), (test_y, "test")):
        if len(y) and not (0 <= int(y.min()) and int(y.max()) < num_classes):
            raise UserError(f"{folder}: {split} labels outside 0..{num_classes - 1}")
    # CIFAR's batches are in random class order: the original's unshuffled split, bit-exact
    train, test = _pair(train_x, train_y, test_x, test_y, mean, std, cutout, cutout_length, classes,
                        sequential_split=True)
    if classes is None:
        train.classes = test.classes = [str(i) for i in range(num_classes)]
    return train, test, DatasetInfo(name, num_classes, 32, mean, std)


# --------------------------------------------------------------------------- digits, synthetic


def load_digits_tensors(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 digits as uint8 RGB image_size^2 images; fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().mul_(255.0 / 16.0).unsqueeze(1)  # N,1,8,8 in 0..255
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = x.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(bunch.target).long()
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=bunch.target,
                                           random_state=DIGITS_SPLIT_SEED)
    train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def make_synthetic(num_train: int = 2000, num_test: int = 500, num_classes: int = 10, image_size: int = 32,
                   seed: int = SYNTHETIC_SEED) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Deterministic learnable images: a class colour times a smooth class pattern, plus noise.

    The pattern is low-frequency, so the class stays recognisable after crops and flips.
    """
    if num_train < num_classes or num_test < 1 or num_classes < 2:
        raise UserError(f"synthetic set needs >= {num_classes} training and >= 1 test images, 2+ classes")
    g = torch.Generator().manual_seed(seed)
    colours = torch.rand(num_classes, 3, 1, 1, generator=g) * 150.0 + 50.0
    coarse = torch.rand(num_classes, 1, 4, 4, generator=g)
    pattern = F.interpolate(coarse, size=(image_size, image_size), mode="bilinear", align_corners=False)
    prototypes = colours * (0.4 + 1.2 * pattern)  # num_classes, 3, S, S

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
        noise = torch.randn(n, 3, image_size, image_size, generator=g) * 30.0
        shift = torch.randn(n, 3, 1, 1, generator=g) * 12.0
        x = (prototypes[labels] + noise + shift).round_().clamp_(0, 255).to(torch.uint8)
        return x, labels.long()

    train_x, train_y = draw(num_train)
    test_x, test_y = draw(num_test)
    return train_x, train_y, test_x, test_y


def _notes(*notes: str | None) -> tuple[str, ...]:
    """The notes given, Nones left out (each loader's notes for the run's log)."""
    return tuple(note for note in notes if note)


# image_folders' public names, still read as data.<name> (from data import ...); that module imports torchvision
_IMAGE_FOLDER_NAMES = frozenset({"UnreadableImage", "class_folders", "load_rgb", "load_imagenet_search",
                                 "missing_classes_note", "loose_images_note", "skipped_files_note"})


def __getattr__(name: str) -> Any:
    """data.<name> of an image-folder name, imported at its first use: imported with data, image_folders would bring
    torchvision (about 1.5 s) into every start, also of the runs that read no image folder."""
    if name in _IMAGE_FOLDER_NAMES:
        import image_folders

        return getattr(image_folders, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- by name


def _image_side(name: str, image_size: int | None) -> int:
    """The side `--set name` is read at (checked): `image_size`, else 224 on ImageNet and 32 elsewhere."""
    if image_size is not None and image_size < 1:
        raise UserError(f"image size must be >= 1, got {image_size}")
    if name not in DATASETS:
        raise UserError(f"unknown --set {name!r}: choose from {', '.join(DATASETS)}")
    if name in ("cifar10", "cifar100") and image_size not in (None, 32):
        raise UserError(f"{name} images are 32x32; image size {image_size} is not supported")
    return image_size or (224 if name == "imagenet" else 32)


def load_datasets(name: str, root: str | Path, *, download: bool = False, cutout: bool = False,
                  cutout_length: int | None = None, image_size: int | None = None, synthetic_train: int = 2000,
                  synthetic_test: int = 500) -> tuple[Dataset, Dataset, DatasetInfo]:
    """(train set with the training transform, test set with the eval transform, info) for `--set name`.

    `cutout_length=None` takes default_cutout_length of the image side (16 from 32 px up).
    """
    train, test, info = _load(name, root, download=download, cutout=cutout, cutout_length=cutout_length,
                              image_size=image_size, synthetic_train=synthetic_train, synthetic_test=synthetic_test)
    assert test is not None
    return train, test, info


def load_train_set(name: str, root: str | Path, *, download: bool = False, cutout: bool = False,
                   cutout_length: int | None = None,
                   image_size: int | None = None) -> tuple[Dataset, DatasetInfo]:
    """(train set with the training transform, info) for `--set name`: what a search reads.

    A search cuts its held-out half from the training set, so an image-folder set needs no val/ or test/
    folder there, and ImageNet's val/ is neither required nor listed (50,000 files).
    """
    train, _, info = _load(name, root, download=download, cutout=cutout, cutout_length=cutout_length,
                           image_size=image_size, with_eval=False)
    return train, info


def _load(name: str, root: str | Path, *, download: bool, cutout: bool, cutout_length: int | None,
          image_size: int | None, synthetic_train: int = 2000, synthetic_test: int = 500,
          with_eval: bool = True) -> tuple[Dataset, Dataset | None, DatasetInfo]:
    """load_datasets; `with_eval=False` skips an image folder's evaluation split (the tensor sets come whole)."""
    root = Path(root)
    if cutout and cutout_length is not None and cutout_length < 1:
        raise UserError(f"--cutout_length must be >= 1, got {cutout_length}")
    size = _image_side(name, image_size)
    length = default_cutout_length(size) if cutout_length is None else cutout_length
    if name in ("cifar10", "cifar100"):
        return _load_cifar(name, root, download=download, cutout=cutout, cutout_length=length)
    if name == "digits":
        train_x, train_y, test_x, test_y = load_digits_tensors(size)
        mean, std = _channel_stats(train_x)
        # a mirrored digit is another glyph (or none): no flips. The samples come in mixed class order
        # (0..9 over and over), so the original's unshuffled split keeps every class in both halves.
        train, test = _pair(train_x, train_y, test_x, test_y, mean, std, cutout, length, flip=False,
                            sequential_split=True)
        return train, test, DatasetInfo("digits", 10, size, mean, std)
    if name == "synthetic":
        train_x, train_y, test_x, test_y = make_synthetic(synthetic_train, synthetic_test, 10, size)
        mean, std = _channel_stats(train_x)
        # labels drawn in random order (make_synthetic): the unshuffled split is fair
        train, test = _pair(train_x, train_y, test_x, test_y, mean, std, cutout, length, sequential_split=True)
        return train, test, DatasetInfo("synthetic", 10, size, mean, std)
    import image_folders

    if name == "folder":
        return image_folders.load_folder(root, size, cutout, length, with_eval)
    return image_folders.load_imagenet(root, size, cutout, length, with_eval)


def load_test_set(name: str, root: str | Path, *, download: bool = False, image_size: int | None = None,
                  classes: Sequence[str] | None = None) -> tuple[Dataset, DatasetInfo]:
    """(test set with the eval transform, info) for `--set name`, for evaluating trained weights.

    An image folder set is read without its training images: ImageNet's val/ needs no train/ beside it (as
    DARTS's test_imagenet.py) and its 1.28M training files are not listed. Its classes are train/'s class
    folders where train/ exists, else val/'s own (so val/ alone needs a folder for every class, even an
    empty one); ``classes`` (the names a training recorded, in label order) overrides both, so that the labels
    are the training's by name whatever the folders hold now. ``class_source`` on the set says which. The
    in-memory sets are loaded whole (digits and synthetic are normalised by their training images' statistics).
    """
    if name not in ("folder", "imagenet"):
        _, test, info = load_datasets(name, root, download=download, image_size=image_size)
        return test, info
    size = _image_side(name, image_size)
    from image_folders import load_test_folder

    return load_test_folder(name, Path(root), size, classes)


# --------------------------------------------------------------------------- indices


def targets_of(dataset: Dataset) -> torch.Tensor:
    """Labels of a dataset (or nested Subset) without decoding any image."""
    if isinstance(dataset, Subset):
        return targets_of(dataset.dataset)[torch.as_tensor(list(dataset.indices), dtype=torch.int64)]
    targets = getattr(dataset, "targets", None)
    if targets is None:
        raise ValueError(f"{type(dataset).__name__} has no .targets")
    return torch.as_tensor(targets, dtype=torch.int64)


def stratified_subsample(targets: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Sorted indices of a per-class random `fraction` (>= 1 per class); 0 or 1 keeps everything."""
    if not 0.0 <= fraction <= 1.0:
        raise UserError(f"--subsample must be in [0, 1], got {fraction}")
    targets = torch.as_tensor(targets, dtype=torch.int64)
    n = len(targets)
    if fraction in (0.0, 1.0):
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for label in torch.unique(targets):
        members = (targets == label).nonzero().flatten()
        k = max(1, math.floor(fraction * len(members) + 0.5))
        chosen.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(chosen).sort().values


def train_valid_split(indices: torch.Tensor, train_portion: float, targets: torch.Tensor | None = None,
                      seed: int = SPLIT_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights' part and the held-out part of `indices`.

    Without `targets`, the original's split: the first floor(portion * n) indices train, the rest
    is held out (no shuffle). With `targets` (labels of the whole dataset), a seeded stratified
    shuffle: each class's members are permuted and round(portion * n_c) of them train, at least
    one on each side when the class has two, so every class is in both parts in proportion.
    Both parts come back sorted.
    """
    if not 0.0 < train_portion <= 1.0:
        raise UserError(f"--train_portion must be in (0, 1], got {train_portion}")
    indices = torch.as_tensor(indices, dtype=torch.int64)
    if targets is None:
        split = math.floor(train_portion * len(indices))
        return indices[:split], indices[split:]
    labels = torch.as_tensor(targets, dtype=torch.int64)[indices]
    g = torch.Generator().manual_seed(seed)
    train, valid = [], []
    for label in torch.unique(labels):
        members = indices[labels == label]
        members = members[torch.randperm(len(members), generator=g)]
        n = len(members)
        k = n if train_portion == 1.0 else math.floor(train_portion * n + 0.5)
        if train_portion < 1.0 and n >= 2:
            k = min(max(k, 1), n - 1)
        train.append(members[:k])
        valid.append(members[k:])
    empty = torch.zeros(0, dtype=torch.int64)
    return (torch.cat(train).sort().values if train else empty,
            torch.cat(valid).sort().values if valid else empty)


def check_classes(parts: dict[str, torch.Tensor], classes: Sequence[str] | None, what: str,
                  remedy: str = "add images, or change --train_portion or --subsample") -> None:
    """Refuse data with fewer than two classes, or a part (name -> its labels) lacking a class the others have.

    `what` names the split in the one-line error, `remedy` what the user can do (a split given as two folders
    has no --train_portion to change).
    """
    labels = [torch.as_tensor(t, dtype=torch.int64) for t in parts.values()]
    present = torch.unique(torch.cat(labels)) if labels else torch.zeros(0, dtype=torch.int64)
    if len(present) < 2:
        raise UserError(f"the training data has {len(present)} class (a classifier needs at least two)")
    names = list(classes or [])
    for part, part_labels in zip(parts, labels):
        missing = present[~torch.isin(present, part_labels)].tolist()
        if missing:
            shown = ", ".join(repr(names[c]) if c < len(names) else str(c) for c in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise UserError(f"the {part} part of {what} has no sample of class {shown}{more}: {remedy}")


def split_kind(dataset: Dataset) -> str:
    """'sequential' for sets the project knows to be in random class order (CIFAR, digits, synthetic),
    'stratified' for every other (ImageFolder trees list their files sorted by class)."""
    return "sequential" if getattr(dataset, "sequential_split", False) else "stratified"


def split_dataset(dataset: Dataset, indices: torch.Tensor, train_portion: float, *,
                  check: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(train indices, held-out indices, record of the split for args.json) of a training set.

    With `check`, a split that leaves no training image, or a part in which a class of `indices` has no
    sample, is refused with one line; an empty held-out part is such a part unless train_portion is 1 (none
    asked for): a stratified split trains a class of one image, so classes that small left none held out.
    """
    kind = split_kind(dataset)
    indices = torch.as_tensor(indices, dtype=torch.int64)
    targets = targets_of(dataset)
    if kind == "sequential":
        train, valid = train_valid_split(indices, train_portion)
    else:
        train, valid = train_valid_split(indices, train_portion, targets, seed=SPLIT_SEED)
    if check:
        what = f"the {kind} split (--train_portion {train_portion}: {len(train)} train / {len(valid)} held out)"
        if len(train) == 0:
            raise UserError(f"--train_portion {train_portion} leaves no training images of the {len(indices)} "
                            f"({kind} split): raise it, or use more data")
        parts = {"training": targets[train]}
        if len(valid) or train_portion < 1.0:
            parts["held-out"] = targets[valid]
        check_classes(parts, getattr(dataset, "classes", None), what)
    record = {"kind": kind, "seed": SPLIT_SEED if kind == "stratified" else None,
              "train_portion": train_portion, "train": len(train), "held_out": len(valid)}
    return train, valid, record


def split_training_set(train_ds: Dataset, subsample: float, seed: int, train_portion: float, *,
                       check: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The training set's (train, held-out, record) split as every script makes it: a stratified
    ``--subsample`` first (none: every image), then ``split_dataset`` at ``--train_portion``.

    train.py, train_search.py and ensemble.py call this one function, so an ensemble's validation
    split is the one its models were held out from. With ``check`` a split that leaves no training
    image, or a part that misses a class, is refused with one line.
    """
    targets = targets_of(train_ds)
    indices = stratified_subsample(targets, subsample, seed) if subsample else torch.arange(len(targets))
    return split_dataset(train_ds, indices, train_portion, check=check)


def keep_on_device(flag: bool | None, dataset: Dataset) -> bool:
    """--data_on_device: as given, else on for in-memory image sets (they fit, and batches then never
    leave the device) and off for file-backed ones (ImageNet folders)."""
    return flag if flag is not None else hasattr(dataset, "images")


def on_device_note(flag: bool | None, dataset: Dataset) -> str | None:
    """Why --data_on_device is not followed (None: it is, or it was not given), for the run's log: a set read from
    image files (folder, imagenet) has no tensor to keep on the device, and build_loader gives it the host loader
    whatever the flag. The flag was dropped without a word, and args.json recorded it on."""
    if not flag or hasattr(dataset, "images"):
        return None
    return ("--data_on_device has no effect on an image folder: its images are decoded from their files by the host "
            "loader (--workers processes); only the in-memory sets (cifar10, cifar100, digits, synthetic) are kept "
            "on the device")


def with_on_device_note(info: DatasetInfo, flag: bool | None, dataset: Dataset) -> DatasetInfo:
    """``info`` with on_device_note among its notes (logged as the data's other warnings), where there is one."""
    note = on_device_note(flag, dataset)
    return dataclasses.replace(info, notes=(*info.notes, note)) if note else info


def with_loader_placement(args: Any, loader: Any) -> Any:
    """``args`` as the run keeps its data, for args.json: a copy with --data_on_device off where it was given but
    ``loader`` (the run's training loader) is the host's (on_device_note), else ``args`` itself."""
    if not getattr(args, "data_on_device", None) or isinstance(loader, DeviceLoader):
        return args
    args = copy.copy(args)
    args.data_on_device = False
    return args


# --------------------------------------------------------------------------- loaders


def _mix_seed(seed: int, epoch: int, stream: int, *more: int) -> int:
    """A 63-bit seed from (seed, epoch, stream, ...): independent streams, stable across runs."""
    digest = hashlib.sha256(":".join(str(part) for part in (seed, epoch, stream, *more)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


_ORDER, _SAMPLE, _WORKERS, _AUGMENT = 0, 1, 2, 3


class _KeyedSubset(Dataset):
    """Subset(dataset, indices) whose random transforms (crop, flip, cutout) draw from a seed of (seed, epoch, key)
    alone, where the key is the item's position and, for sample_batch's endless draws, the draw's number.

    Left to the global RNG (no workers) or to each worker's own seed, the pixels would depend on --workers, which a
    resume may change ("where and how the run goes on"): the resumed run would no longer equal an unbroken one.
    """

    def __init__(self, dataset: Dataset, indices: list[int], seed: int) -> None:
        self.dataset, self.indices, self.seed = dataset, indices, seed
        self.epoch = 0  # set before each DataLoader is made (its workers take a copy)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        position, draw = key if isinstance(key, tuple) else (key, -1)
        # the CPU generator alone, saved and restored by hand: torch.random.fork_rng with torch.manual_seed (which
        # seeds every device too) tripled the time of an 8x8 digit here (about 300 against 100 us)
        generator = torch.random.default_generator
        state = generator.get_state()
        generator.manual_seed(_mix_seed(self.seed, self.epoch, _AUGMENT, draw, position))
        try:
            return self.dataset[self.indices[position]]
        finally:
            generator.set_state(state)


class _RandomBatches(Sampler[list[tuple[int, int]]]):
    """Endless batches of `batch_size` distinct positions, each a fresh uniform draw, keyed (position, draw number)
    for _KeyedSubset: a sample drawn twice is augmented afresh each time."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        self.n, self.batch_size, self.generator = n, min(batch_size, n), generator

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        draw = 0
        while True:
            yield [(p, draw) for p in torch.randperm(self.n, generator=self.generator)[: self.batch_size].tolist()]
            draw += 1


def _check_loader_args(indices: torch.Tensor, batch_size: int) -> None:
    if batch_size < 1:
        raise UserError(f"--batch_size must be >= 1, got {batch_size}")
    if len(indices) == 0:
        raise UserError("a data loader got no samples (check --train_portion / --subsample)")


def _leave_sigterm_to_main(worker_id: int) -> None:
    """A DataLoader worker's start: where the main process turns SIGTERM into a clean stop (utils.sigterm_interrupts,
    whose handler a forked worker inherits), the worker ignores it. A SIGTERM sent to the whole process group (a
    scheduler's preemption, systemd's stop) killed the workers first (torch's worker handler), and the stopping run
    printed torch's "DataLoader worker is killed by signal" traceback before its one --resume line. The main process
    stops its workers as it winds up, and a worker ends by itself once the main process is gone."""
    del worker_id
    if callable(signal.getsignal(signal.SIGTERM)):  # a Python handler: the main process's own (SIG_DFL under spawn)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _shutdown_iterator(iterator: Iterator) -> None:
    shutdown = getattr(iterator, "_shutdown_workers", None)  # multi-process DataLoader iterators
    if shutdown is not None:
        shutdown()


class HostLoader:
    """torch DataLoader over Subset(dataset, indices), batches moved to `device`; order set by (seed, epoch)."""

    def __init__(self, dataset: Dataset, indices: torch.Tensor | Sequence[int], batch_size: int, *,
                 shuffle: bool, seed: int, device: torch.device | str, workers: int = 0,
                 drop_last: bool = False) -> None:
        self.indices = torch.as_tensor(indices, dtype=torch.int64).cpu()
        _check_loader_args(self.indices, batch_size)
        self.dataset = dataset
        transform = getattr(dataset, "transform", None)
        if isinstance(transform, _HostTransform):  # built here, where the workers fork from: built in each worker,
            transform.built()  # it imported torchvision anew at every pass over the data (about 1.5 s a pass)
        self.subset = _KeyedSubset(dataset, self.indices.tolist(), seed)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.device = torch.device(device)
        self.workers, self.drop_last = workers, drop_last
        self.pin = self.device.type == "cuda"
        self.epoch = 0
        self._sample_iter: Iterator | None = None
        self._sample_finalizer: weakref.finalize | None = None

    def _generator(self, stream: int) -> torch.Generator:
        return torch.Generator().manual_seed(_mix_seed(self.seed, self.epoch, stream))

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass (and sample_batch draws) a deterministic function of (seed, epoch)."""
        self.epoch = self.subset.epoch = epoch
        self.close()

    def close(self) -> None:
        """Stop the workers behind sample_batch (also done when the loader is collected or at exit)."""
        if self._sample_finalizer is not None:
            self._sample_finalizer()
        self._sample_iter = self._sample_finalizer = None

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _to_device(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        return x.to(self.device, non_blocking=self.pin), y.to(self.device, non_blocking=self.pin)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = DataLoader(self.subset, batch_size=self.batch_size, shuffle=self.shuffle,
                            generator=self._generator(_ORDER), num_workers=self.workers,
                            pin_memory=self.pin, drop_last=self.drop_last, worker_init_fn=_leave_sigterm_to_main)
        for batch in loader:
            yield self._to_device(batch)

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A new uniformly random batch of distinct samples per call (PC-DARTS's next(iter(valid_queue)))."""
        if self._sample_iter is None:
            sampler = _RandomBatches(len(self.indices), self.batch_size, self._generator(_SAMPLE))
            loader = DataLoader(self.subset, batch_sampler=sampler, num_workers=self.workers,
                                pin_memory=self.pin, generator=self._generator(_WORKERS),
                                worker_init_fn=_leave_sigterm_to_main)
            self._sample_iter = iter(loader)
            # an endless worker iterator still alive at interpreter exit can abort the process
            # (pin-memory thread); weakref.finalize shuts it down first, via atexit.
            self._sample_finalizer = weakref.finalize(self, _shutdown_iterator, self._sample_iter)
        return self._to_device(next(self._sample_iter))


def _device_generator(device: torch.device, seed: int) -> torch.Generator:
    """A generator on `device` (falls back to CPU where the backend has none)."""
    try:
        g = torch.Generator(device=device)
    except RuntimeError:
        g = torch.Generator()
    return g.manual_seed(seed)


class DeviceLoader:
    """The whole uint8 subset lives on `device`; each batch is augmented there in a few batched ops.

    Same distribution as the host pipeline: zero-padded random crop, flip p=0.5 (unless the dataset's
    `flip` is off), /255, normalise,
    cutout zeroed after normalisation. Randomness comes from a generator seeded by (seed, epoch).
    `augment=None` follows the dataset (training sets augment, test sets do not), as the host path.
    """

    def __init__(self, dataset: Dataset, indices: torch.Tensor | Sequence[int], batch_size: int, *,
                 shuffle: bool, seed: int, device: torch.device | str, workers: int = 0,
                 drop_last: bool = False, augment: bool | None = None) -> None:
        if not hasattr(dataset, "images") or not hasattr(dataset, "targets"):
            raise ValueError(f"{type(dataset).__name__} has no .images/.targets: use HostLoader")
        index = torch.as_tensor(indices, dtype=torch.int64).cpu()
        _check_loader_args(index, batch_size)
        del workers  # accepted for interface parity; nothing runs on the host
        self.device = torch.device(device)
        self.images = dataset.images[index].to(self.device)
        self.targets = torch.as_tensor(dataset.targets, dtype=torch.int64)[index].to(self.device)
        self.indices = index
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.augment = bool(getattr(dataset, "augment", False)) if augment is None else augment
        self.cutout = bool(self.augment and getattr(dataset, "cutout", False))
        self.cutout_length = int(getattr(dataset, "cutout_length", 16))
        self.padding = int(getattr(dataset, "padding", CROP_PADDING))
        self.flip = bool(getattr(dataset, "flip", True))
        channels = self.images.size(1)
        self.mean = torch.tensor(dataset.mean, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self.std = torch.tensor(dataset.std, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self.epoch = 0
        self._sample_gen: torch.Generator | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass (and sample_batch draws) a deterministic function of (seed, epoch)."""
        self.epoch = epoch
        self._sample_gen = None

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _generator(self, stream: int) -> torch.Generator:
        return _device_generator(self.device, _mix_seed(self.seed, self.epoch, stream))

    def _randint(self, high: int, size: int, g: torch.Generator) -> torch.Tensor:
        return torch.randint(high, (size,), generator=g, device=g.device).to(self.device)

    def _prepare(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """uint8 batch -> normalised float batch, augmented when self.augment."""
        b, c, h, w = x.shape
        if self.augment:
            p = self.padding
            padded = F.pad(x, (p, p, p, p)) if p else x  # zeros in uint8 space: black, as RandomCrop
            oy = self._randint(2 * p + 1, b, g)
            ox = self._randint(2 * p + 1, b, g)
            ar_h = torch.arange(h, device=self.device)
            ar_w = torch.arange(w, device=self.device)
            rows = oy[:, None] + ar_h  # b, h
            cols = ar_w + ox[:, None]
            if self.flip:
                flip = torch.rand(b, generator=g, device=g.device).to(self.device) < 0.5
                cols = torch.where(flip[:, None], (w - 1) - ar_w, ar_w) + ox[:, None]  # crop, then mirror
            batch_ix = torch.arange(b, device=self.device)[:, None, None, None]
            chan_ix = torch.arange(c, device=self.device)[None, :, None, None]
            x = padded[batch_ix, chan_ix, rows[:, None, :, None], cols[:, None, None, :]]
        out = x.float().div_(255.0).sub_(self.mean).div_(self.std)
        if self.cutout:
            half = self.cutout_length // 2
            cy = self._randint(h, b, g)
            cx = self._randint(w, b, g)
            ar_h = torch.arange(h, device=self.device)
            ar_w = torch.arange(w, device=self.device)
            in_rows = (ar_h >= (cy - half).clamp(min=0)[:, None]) & (ar_h < (cy + half).clamp(max=h)[:, None])
            in_cols = (ar_w >= (cx - half).clamp(min=0)[:, None]) & (ar_w < (cx + half).clamp(max=w)[:, None])
            out = out.masked_fill((in_rows[:, :, None] & in_cols[:, None, :])[:, None], 0.0)
        return out

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = self._generator(_ORDER)
        n = len(self.indices)
        if self.shuffle:
            order = torch.randperm(n, generator=g, device=g.device).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self._prepare(self.images[idx], g), self.targets[idx]

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A new uniformly random batch of distinct samples per call (PC-DARTS's next(iter(valid_queue)))."""
        if self._sample_gen is None:
            self._sample_gen = self._generator(_SAMPLE)
        g = self._sample_gen
        n = len(self.indices)
        idx = torch.randperm(n, generator=g, device=g.device)[: min(self.batch_size, n)].to(self.device)
        return self._prepare(self.images[idx], g), self.targets[idx]


def build_loader(dataset: Dataset, indices: torch.Tensor | Sequence[int], batch_size: int, *, train: bool,
                 seed: int, device: torch.device | str, workers: int = 0, on_device: bool = False,
                 drop_last: bool = False) -> HostLoader | DeviceLoader:
    """DeviceLoader when asked for and the dataset is in memory, else HostLoader; train => shuffled.

    Augmentation follows the dataset on both paths (its transform on the host, its `augment` flag
    on the device), so a held-out half of a training set is augmented on both, as in PC-DARTS.
    """
    if on_device and hasattr(dataset, "images"):
        return DeviceLoader(dataset, indices, batch_size, shuffle=train, seed=seed, device=device,
                            workers=workers, drop_last=drop_last)
    return HostLoader(dataset, indices, batch_size, shuffle=train, seed=seed, device=device,
                      workers=workers, drop_last=drop_last)
