"""Image-folder datasets (`--set folder`, `--set imagenet`, the ImageNet search): one sub-folder per class.

Apart from data.py because it is built on torchvision (ImageFolder, PIL transforms), whose import (models, ops,
torch._dynamo) cost every script start about 1.5 s: data.py imports this module only when such a set is read, so
runs on the in-memory sets (digits, synthetic, CIFAR on the device) never import torchvision. Classes stay at
module level: DataLoader workers started by spawn unpickle the datasets by name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from torchvision import datasets as tv_datasets
from torchvision import transforms as T

from data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Cutout,
    DatasetInfo,
    _notes,
    crop_padding,
    default_cutout_length,
)
from utils import DataNotFound, UserError, class_key


class UnreadableImage(UserError):
    """An image file that cannot be decoded: one line naming the file.

    A DataLoader worker re-raises it in the main process with the worker's whole traceback as
    its message; the line that names the file is taken back out of it. Met mid-run, the run goes on with --resume
    once the file is replaced: its line says the command (utils.resumable), which it did not.
    """

    mendable = True

    def __init__(self, message: str) -> None:
        marker = f"{type(self).__name__}: "
        if "Traceback" in message and marker in message:
            message = message.rsplit(marker, 1)[1].strip()
        super().__init__(message)


def _class_dirs(directory: str | Path) -> list[str]:
    """The sub-folders that are classes, sorted as stored (torchvision's order, which every run recorded: sorted by
    ``class_key`` instead, a run trained on decomposed names would not resume on its own data): every one but
    hidden folders. A link whose target is gone (a class folder on a disk not mounted) is a one-line error: skipped
    as no folder, its class silently dropped out of the labels (the others renumbered)."""
    with os.scandir(directory) as listing:
        entries = [e for e in listing if not e.name.startswith(".")]
    for entry in entries:
        if entry.is_symlink() and not os.path.exists(entry.path):
            raise UserError(f"{entry.path} is a link to {os.path.realpath(entry.path)}, which does not exist (a class "
                            f"folder on a disk not mounted?): restore it, or remove the link")
    return sorted(e.name for e in entries if e.is_dir())


def class_folders(directory: str | Path) -> tuple[list[str], dict[str, int]]:
    """torchvision's find_classes without hidden folders: a .ipynb_checkpoints or .git beside the class folders
    is a tool's, not a class (it was counted as one, and with images in it became an extra label)."""
    classes = _class_dirs(directory)
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def load_rgb(path: str) -> Any:
    """An image file as 8-bit RGB. 16-bit greyscale, the PNG/TIFF of scientific cameras, is scaled by 1/257 into
    8 bits: PIL's convert clips it at 255, which turned most such images white. PIL's 32-bit integer mode (older
    Pillows open 16-bit PNGs so) is scaled alike when it holds values above 255, else kept as 8-bit values. A
    32-bit float image is read as intensities in [0, 1], the convention of float images, and refused outside it:
    PIL's convert clipped [0, 1] to black, and any other range would be a guess."""
    from PIL import Image

    with open(path, "rb") as f:
        image = Image.open(f)
        if image.mode == "F":
            pixels = np.asarray(image, dtype=np.float64)
            finite = pixels[np.isfinite(pixels)]  # the range said is the finite pixels' own (no 0 put in)
            low, high = (finite.min(), finite.max()) if finite.size else (math.nan, math.nan)
            if finite.size < pixels.size or low < 0.0 or high > 1.0:
                nonfinite = f" and {pixels.size - finite.size} are NaN or infinite" if finite.size < pixels.size else ""
                raise ValueError(f"its 32-bit float pixels run from {low:g} to {high:g}{nonfinite}, not within [0, 1], "
                                 "the only float range read (save it as 8- or 16-bit)")
            image = Image.fromarray(np.rint(pixels * 255.0).astype(np.uint8))
        elif image.mode.startswith("I;16") or image.mode == "I":
            pixels = np.asarray(image, dtype=np.float64)
            if image.mode != "I" or pixels.max(initial=0) > 255:
                pixels = pixels / 257.0
            image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
        return image.convert("RGB")


def _holds(folder: str, path: str) -> bool:
    """Whether real path `path` is `folder` or lies inside it (paths on two Windows drives: no)."""
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:
        return False


def _walk_without_loops(top: str) -> Iterator[tuple[str, list[str]]]:
    """(folder, its file names) for `top` and every folder below it, following folder links as os.walk does, but
    refusing (UserError naming the link) a link to a folder that holds it, which would be walked without end.

    A link elsewhere (a shared folder linked into a class) is followed; only a target that is the real path of the
    folder being walked, or of one above it on the way down from `top`, is a loop.
    """
    above = {top: (os.path.realpath(top),)}  # each folder's real path and those of the folders walked to reach it
    for root, dirs, files in os.walk(top, followlinks=True):
        chain = above.pop(root)
        for name in dirs:
            path = os.path.join(root, name)
            real = os.path.realpath(path)
            if os.path.islink(path) and any(_holds(real, seen) for seen in chain):
                raise UserError(f"{path} is a link to {real}, a folder that holds it: the image folder would be "
                                f"listed without end (remove the link)")
            above[path] = (*chain, real)
        yield root, files


class _ImageFolder(tv_datasets.ImageFolder):
    """ImageFolder whose class indices can be fixed to another split's (val must match train).

    A file that does not decode raises UnreadableImage naming it, not PIL's traceback mid-epoch. Hidden files
    and folders are not read (macOS's ``._x.png`` beside ``x.png`` is no image, though named as one); other files
    without an image extension are counted in ``skipped``, for the log. Samples are listed sorted by class, so
    split_dataset splits it stratified (no sequential_split).
    """

    def __init__(self, root: Path, transform: Callable, class_to_idx: dict[str, int] | None = None) -> None:
        self._fixed_classes = class_to_idx
        self.skipped: list[str] = []
        self.notes: tuple[str, ...] = ()  # for the log: set by _image_folder
        self._walked = os.path.expanduser(str(root))  # the prefix of every path make_dataset lists
        super().__init__(str(root), transform=transform, loader=load_rgb, is_valid_file=self._is_image,
                         allow_empty=class_to_idx is not None)

    def make_dataset(self, directory: str | Path, class_to_idx: dict[str, int], extensions: Any = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """torchvision's listing (same samples, same order: class name, then folder path, then file name), but a
        folder link that points to a folder holding it is a one-line error: torchvision's walk follows links and
        went round such a loop without end (two links: an exponential number of paths), the run hanging silently.
        """
        del extensions  # _ImageFolder always passes is_valid_file
        valid = is_valid_file or self._is_image
        directory = os.path.expanduser(str(directory))
        samples: list[tuple[str, int]] = []
        found: set[str] = set()
        for name in sorted(class_to_idx):
            class_dir = os.path.join(directory, name)
            if not os.path.isdir(class_dir):
                continue
            for root, fnames in sorted(_walk_without_loops(class_dir)):
                for fname in sorted(fnames):
                    path = os.path.join(root, fname)
                    if valid(path):
                        samples.append((path, class_to_idx[name]))
                        found.add(name)
        empty = sorted(set(class_to_idx) - found)
        if empty and not allow_empty:
            raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)}.")
        return samples

    def _is_image(self, path: str) -> bool:
        if os.sep + "." in path[len(self._walked):]:  # a hidden file, or one inside a hidden folder
            return False
        if tv_datasets.folder.has_file_allowed_extension(path, tv_datasets.folder.IMG_EXTENSIONS):
            return True
        self.skipped.append(path)
        return False

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.samples[index]
        try:
            sample = self.loader(path)
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
            reason = " ".join(str(e).split()) or type(e).__name__
            raise UnreadableImage(f"cannot read image {path}: {reason} (replace it with a readable copy: removing it "
                                  "changes the data split, which a run resumes only on its own)") from None
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        if self._fixed_classes is None:
            return class_folders(directory)
        by_key = {class_key(name): index for name, index in self._fixed_classes.items()}
        found = [name for name in _class_dirs(directory) if name not in self._fixed_classes]
        unknown = [name for name in found if class_key(name) not in by_key]
        if unknown:
            raise UserError(f"{directory} has class folder(s) not in the training set: {', '.join(unknown[:5])}")
        classes = sorted(self._fixed_classes, key=self._fixed_classes.__getitem__)
        # a folder spelt in another Unicode form than the training set's name reads as that class
        return classes, {**self._fixed_classes, **{name: by_key[class_key(name)] for name in found}}


def _image_folder(root: Path, transform: Callable, class_to_idx: dict[str, int] | None = None) -> _ImageFolder:
    if not root.is_dir():
        raise DataNotFound(f"image folder not found: looked for {root}")
    try:
        ds = _ImageFolder(root, transform, class_to_idx)
    except FileNotFoundError as e:  # (is_valid_file drops torchvision's list of the extensions it reads)
        raise UserError(f"no images in {root}: {' '.join(str(e).split())} Images are read by their extension: "
                        f"{', '.join(tv_datasets.folder.IMG_EXTENSIONS)}{_loose_images_said(root)}") from None
    if len(ds) == 0:
        loose = _loose_images_said(root)
        raise UserError(f"no images in a class folder of {root}{loose}" if loose else f"no images in {root}")
    ds.notes = _notes(loose_images_note(root), skipped_files_note(root, ds), missing_classes_note(root, ds))
    if class_to_idx is None and len(ds.classes) < 2:
        found = f"only {ds.classes[0]!r}" if ds.classes else "none"
        raise UserError(f"{root} has {len(ds.classes)} class folder ({found}): a classifier needs at least two, "
                        f"one sub-folder per class")
    return ds


def missing_classes_note(root: Path, ds: tv_datasets.ImageFolder) -> str | None:
    """Which training classes an evaluation folder has no image of (None: it has them all).

    Its labels still follow the training set's mapping, so nothing is mislabelled; but its accuracy
    and confusion matrix say nothing about those classes, which a reader of the numbers must know.
    """
    seen = {target for _, target in ds.samples}
    missing = [name for name in ds.classes if ds.class_to_idx[name] not in seen]
    if not missing:
        return None
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return (f"{root} has no image of {len(missing)} of the {len(ds.classes)} training classes "
            f"({', '.join(map(repr, missing[:5]))}{more}): its accuracy leaves them out")


def loose_images_note(root: Path) -> str | None:
    """How many images lie in an image folder itself, beside its class folders (None: none). They have no class
    and are not read: they were left out without a word, a sorting step the user thought done."""
    with os.scandir(root) as listing:
        loose = sorted(e.name for e in listing if not e.name.startswith(".") and e.is_file()
                       and tv_datasets.folder.has_file_allowed_extension(e.name, tv_datasets.folder.IMG_EXTENSIONS))
    if not loose:
        return None
    more = ", ..." if len(loose) > 3 else ""
    return (f"{root}: {len(loose)} image(s) outside the class folders not read ({', '.join(loose[:3])}{more}): "
            f"each class's images go in its own sub-folder")


def _loose_images_said(root: Path) -> str:
    """loose_images_note as the end of a 'no images in root' error (empty: none lie loose). ImageNet's val/ as
    distributed, 50,000 images in one folder, was refused as holding no images, not as not sorted into classes."""
    note = loose_images_note(root)
    return f"; {note.removeprefix(f'{root}: ')}" if note else ""


def skipped_files_note(root: Path, ds: _ImageFolder) -> str | None:
    """How many files in an image folder were not read for want of an image extension (None: none)."""
    if not ds.skipped:
        return None
    names = ", ".join(os.path.relpath(path, root) for path in ds.skipped[:3])
    more = ", ..." if len(ds.skipped) > 3 else ""
    return (f"{root}: {len(ds.skipped)} file(s) without an image extension not read ({names}{more}); "
            f"read: {', '.join(tv_datasets.folder.IMG_EXTENSIONS)}")


def _folder_transforms(size: int, mean: Sequence[float], std: Sequence[float], cutout: bool,
                       cutout_length: int) -> tuple[Callable, Callable]:
    """Resize + centre crop to `size`, then the CIFAR augmentation (padding scaled to size/8)."""
    base = [T.Resize(size), T.CenterCrop(size)]
    tail: list[Any] = [T.ToTensor(), T.Normalize(mean, std)]
    train = base + [T.RandomCrop(size, padding=crop_padding(size)), T.RandomHorizontalFlip()] + tail
    if cutout:
        train.append(Cutout(cutout_length))
    return T.Compose(train), T.Compose(base + tail)


def _imagenet_transforms(size: int, cutout: bool, cutout_length: int) -> tuple[Callable, Callable]:
    """DARTS's train_imagenet pipeline (random-resized crop, flip, colour jitter); eval resize 256/224."""
    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train: list[Any] = [T.RandomResizedCrop(size), T.RandomHorizontalFlip(),
                        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
                        T.ToTensor(), normalize]
    if cutout:
        train.append(Cutout(cutout_length))
    resize = round(size * 256 / 224)
    evaluate = T.Compose([T.Resize(resize), T.CenterCrop(size), T.ToTensor(), normalize])
    return T.Compose(train), evaluate


def _folder_eval_dir(root: Path) -> tuple[Path | None, str | None]:
    """A folder set's evaluation split: val/, else test/; with both, val/, and a note for the log that test/ is
    not read (it was silently)."""
    found = [root / d for d in ("val", "test") if (root / d).is_dir()]
    note = f"{root} has both val/ and test/: val/ is the evaluation split, test/ is not read" \
        if len(found) == 2 else None
    return (found[0] if found else None), note


def load_folder(root: Path, image_size: int, cutout: bool, cutout_length: int,
                with_eval: bool = True) -> tuple[Dataset, Dataset | None, DatasetInfo]:
    """`--set folder` for data._load: root/train and its val/ (or test/); `with_eval=False` leaves the latter."""
    train_dir = root / "train"
    eval_dir, eval_note = _folder_eval_dir(root) if with_eval else (None, None)
    if not train_dir.is_dir() or (with_eval and eval_dir is None):
        looked = f"{train_dir} and {root / 'val'} (or {root / 'test'}), each" if with_eval else f"{train_dir},"
        raise DataNotFound(f"image folder dataset not found: looked for {looked} with one sub-folder per class")
    train_tf, eval_tf = _folder_transforms(image_size, IMAGENET_MEAN, IMAGENET_STD, cutout, cutout_length)
    train = _image_folder(train_dir, train_tf)
    test = _image_folder(eval_dir, eval_tf, train.class_to_idx) if eval_dir is not None else None
    return train, test, DatasetInfo("folder", len(train.classes), image_size, IMAGENET_MEAN, IMAGENET_STD,
                                     classes=tuple(train.classes),
                                     notes=_notes(eval_note, *train.notes, *(test.notes if test else ())))


def load_imagenet(root: Path, image_size: int, cutout: bool, cutout_length: int,
                  with_eval: bool = True) -> tuple[Dataset, Dataset | None, DatasetInfo]:
    """`--set imagenet` for data._load: root/imagenet/train and val/ (DARTS's pipeline); `with_eval=False`: no val/."""
    base = root / "imagenet"
    train_tf, eval_tf = _imagenet_transforms(image_size, cutout, cutout_length)
    train = _image_folder(base / "train", train_tf)
    test = _image_folder(base / "val", eval_tf, train.class_to_idx) if with_eval else None
    return train, test, DatasetInfo("imagenet", len(train.classes), image_size, IMAGENET_MEAN, IMAGENET_STD,
                                     classes=tuple(train.classes),
                                     notes=_notes(*train.notes, *(test.notes if test else ())))


def load_imagenet_search(root: str | Path, *, image_size: int | None = None, cutout: bool = False,
                         cutout_length: int | None = None) -> tuple[Dataset, Dataset, DatasetInfo]:
    """PC-DARTS's ImageNet search data: root/imagenet_search/{train,val}, both random-resized-crop + flip.

    `train` trains the weights and `val` the architecture, so both use the training augmentation.
    `cutout_length=None` (--cutout without --cutout_length) takes default_cutout_length of the side, as
    load_datasets does.
    """
    size = image_size or 224
    if cutout_length is None:
        cutout_length = default_cutout_length(size)
    base = Path(root) / "imagenet_search"
    ops: list[Any] = [T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if cutout:
        ops.append(Cutout(cutout_length))
    transform = T.Compose(ops)
    train = _image_folder(base / "train", transform)
    valid = _image_folder(base / "val", transform, train.class_to_idx)
    return train, valid, DatasetInfo("imagenet", len(train.classes), size, IMAGENET_MEAN, IMAGENET_STD,
                                      classes=tuple(train.classes),
                                      notes=_notes(*train.notes, *valid.notes))


def _test_classes(train_dir: Path, eval_dir: Path) -> dict[str, int]:
    """Class indices for an evaluation folder loaded alone: those of the training folder's class folders where it
    exists (listed, not their images: the indices load_datasets gives), else the evaluation folder's own."""
    source = train_dir if train_dir.is_dir() else eval_dir
    try:
        return class_folders(source)[1]
    except FileNotFoundError:
        raise UserError(f"no class folders in {source}: one sub-folder per class") from None


def load_test_folder(name: str, root: Path, size: int,
                     classes: Sequence[str] | None) -> tuple[_ImageFolder, DatasetInfo]:
    """data.load_test_set of an image folder set (`name` folder or imagenet), read at side `size` (data._image_side)."""
    if name == "folder":
        train_dir = root / "train"
        found, eval_note = _folder_eval_dir(root)
        eval_dir = found or root / "val"
        _, transform = _folder_transforms(size, IMAGENET_MEAN, IMAGENET_STD, False, 1)
    else:
        train_dir, eval_dir, eval_note = root / "imagenet" / "train", root / "imagenet" / "val", None
        _, transform = _imagenet_transforms(size, False, 1)
    if not eval_dir.is_dir():
        also = f" (or {root / 'test'})" if name == "folder" else ""
        raise DataNotFound(f"image folder not found: looked for {eval_dir}{also}, with one sub-folder per class")
    if classes:
        test = _image_folder(eval_dir, transform, {c: i for i, c in enumerate(classes)})
        test.class_source = "the classes the weights were trained on"
    else:
        test = _image_folder(eval_dir, transform, _test_classes(train_dir, eval_dir))
        test.class_source = train_dir if train_dir.is_dir() else eval_dir
    return test, DatasetInfo(name, len(test.classes), size, IMAGENET_MEAN, IMAGENET_STD, classes=tuple(test.classes),
                             notes=_notes(eval_note, *test.notes))
