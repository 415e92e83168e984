"""Registry of the datasets the course trains on: where each file lives, its size and SHA-256, the class
names and the archive layout, as typed frozen dataclasses so tests and smoke mode can build their own."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from ..core.paper import canonical_dataset

__all__ = [
    "RemoteFile",
    "DatasetSpec",
    "REGISTRY",
    "MALARIA_PATIENT_CSVS",
    "get_spec",
    "dataset_names",
    "override",
]


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file. ``sha256=None``: no published checksum (verified by size only, if known)."""

    filename: str
    url: str
    size: int | None
    sha256: str | None
    md5: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if "/" in self.filename or "\\" in self.filename or self.filename in ("", ".", ".."):
            raise ValueError(f"RemoteFile.filename must be a plain file name, got {self.filename!r}")
        if self.sha256 is not None and (len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in
                                                                       self.sha256)):
            raise ValueError(f"RemoteFile.sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.size is not None and self.size < 0:
            raise ValueError(f"RemoteFile.size must be >= 0, got {self.size}")


LAYOUTS = ("cifar-pickle", "image-folders", "embedded")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its archive, class names in label order and layout.

    ``layout`` is ``"cifar-pickle"`` (a tar.gz of Python pickles), ``"image-folders"`` (a zip holding
    ``top_folder/<class_folder>/<image files>``) or ``"embedded"`` (no download: the digits that ship
    with scikit-learn, see ``digits.py``). ``class_folders`` are the folder names, in label order;
    ``classes`` the human-readable names. ``per_class`` is the real count per class (train+test for CIFAR's
    50,000/10,000 see ``train_count``/``test_count``); other counts only warn.
    """

    name: str
    archive: RemoteFile | None  # None: an embedded dataset (shipped inside an installed package)
    classes: tuple[str, ...]
    layout: str
    top_folder: str
    class_folders: tuple[str, ...] = ()
    image_suffixes: tuple[str, ...] = ()
    per_class: int | None = None
    train_count: int | None = None
    test_count: int | None = None
    default_image_size: int | None = None
    citation: str = ""
    licence: str = ""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"DatasetSpec.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if (self.archive is None) != (self.layout == "embedded"):
            raise ValueError("DatasetSpec.archive must be None exactly for the 'embedded' layout")
        if self.layout == "image-folders" and len(self.class_folders) != len(self.classes):
            raise ValueError("DatasetSpec.class_folders must name one folder per class")
        if not self.name or "/" in self.name:
            raise ValueError(f"DatasetSpec.name must be a plain name, got {self.name!r}")

    def replace(self, **changes: object) -> DatasetSpec:
        """A copy with some fields changed (e.g. a fixture archive)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


CIFAR10 = DatasetSpec(
    name="cifar10",
    archive=RemoteFile(
        filename="cifar-10-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        size=170_498_071,
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        md5="c58f30108f718f92721af3b95e74349a",
    ),
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    layout="cifar-pickle",
    top_folder="cifar-10-batches-py",
    train_count=50_000,
    test_count=10_000,
    default_image_size=None,
    citation="Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009",
    licence="none stated",
)

COLORECTAL = DatasetSpec(
    name="colorectal_histology",
    archive=RemoteFile(
        filename="Kather_texture_2016_image_tiles_5000.zip",
        url="https://zenodo.org/records/53169/files/Kather_texture_2016_image_tiles_5000.zip",
        size=258_098_431,
        sha256="936d0b95ae0f04f1f7b18a2b7e8c55776c3e887d102f645bcee752d1a6626a32",
        md5="0ddbebfc56344752028fda72602aaade",
    ),
    classes=("tumor", "stroma", "complex", "lympho", "debris", "mucosa", "adipose", "empty"),
    layout="image-folders",
    top_folder="Kather_texture_2016_image_tiles_5000",
    class_folders=("01_TUMOR", "02_STROMA", "03_COMPLEX", "04_LYMPHO", "05_DEBRIS", "06_MUCOSA",
                   "07_ADIPOSE", "08_EMPTY"),
    image_suffixes=(".tif", ".tiff"),
    per_class=625,
    default_image_size=224,
    citation="Kather et al., Multi-class texture analysis in colorectal cancer histology, "
             "Sci. Rep. 6:27988 (2016)",
    licence="CC BY 4.0",
)

MALARIA = DatasetSpec(
    name="malaria",
    archive=RemoteFile(
        filename="cell_images.zip",
        url="https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip",
        size=353_452_851,
        sha256="0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668",
    ),
    classes=("parasitized", "uninfected"),
    layout="image-folders",
    top_folder="cell_images",
    class_folders=("Parasitized", "Uninfected"),
    image_suffixes=(".png",),
    per_class=13_779,
    default_image_size=224,
    citation="Rajaraman et al., Pre-trained CNNs as feature extractors toward improved malaria parasite "
             "detection in thin blood smear images, PeerJ 6:e4568 (2018)",
    licence="public (NLM)",
)

# NIH's patient-to-cell mapping files, for the stricter patient-disjoint split. No checksum or size has
# been published and this project could not reach the host to record them: they are NOT verified.
MALARIA_PATIENT_CSVS: tuple[RemoteFile, ...] = (
    RemoteFile(
        filename="patientid_cellmapping_parasitized.csv",
        url="https://data.lhncbc.nlm.nih.gov/public/Malaria/patientid_cellmapping_parasitized.csv",
        size=None,
        sha256=None,
        note="unverified: no published checksum or size",
    ),
    RemoteFile(
        filename="patientid_cellmapping_uninfected.csv",
        url="https://data.lhncbc.nlm.nih.gov/public/Malaria/patientid_cellmapping_uninfected.csv",
        size=None,
        sha256=None,
        note="unverified: no published checksum or size",
    ),
)

DIGITS = DatasetSpec(
    name="digits",
    archive=None,
    classes=tuple(str(i) for i in range(10)),
    layout="embedded",
    top_folder="",
    default_image_size=8,
    citation="UCI optical recognition of handwritten digits, as shipped by scikit-learn (load_digits)",
    licence="CC BY 4.0",
)

REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in (DIGITS, CIFAR10, COLORECTAL, MALARIA)}


def dataset_names(downloadable: bool = False) -> tuple[str, ...]:
    """The registered dataset names (``downloadable``: only those fetched from the network)."""
    return tuple(n for n, s in REGISTRY.items() if not downloadable or s.archive is not None)


def get_spec(name_or_spec: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name (a few aliases accepted), or pass a ``DatasetSpec`` through unchanged."""
    if isinstance(name_or_spec, DatasetSpec):
        return name_or_spec
    if not isinstance(name_or_spec, str):
        raise TypeError(f"dataset name must be a str or DatasetSpec, got {type(name_or_spec).__name__}")
    key = name_or_spec.strip().lower()
    if key not in REGISTRY:  # a registered name (override() may add one) wins; else the paper's aliases
        with contextlib.suppress(ValueError):
            key = canonical_dataset(key)
    if key not in REGISTRY:
        raise ValueError(f"unknown dataset name {name_or_spec!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[key]


@contextlib.contextmanager
def override(spec: DatasetSpec) -> Iterator[DatasetSpec]:
    """Temporarily register ``spec`` under its name (tests and smoke mode use fixture archives this way)."""
    old = REGISTRY.get(spec.name)
    REGISTRY[spec.name] = spec
    try:
        yield spec
    finally:
        if old is None:
            del REGISTRY[spec.name]
        else:
            REGISTRY[spec.name] = old
