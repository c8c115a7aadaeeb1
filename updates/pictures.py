"""A journalist's uploaded picture, made safe and small before anyone sees it.

store_picture() takes the bytes, never the name or the browser's content type, as the
judge of what a file is: Pillow must recognise a JPEG, PNG, WebP, GIF or AVIF in them,
declaring no more pixels than MAX_PIXELS, and decode it whole. The picture is turned
upright (EXIF orientation), and every rendition is written from pixels alone: no EXIF
(where a phone keeps the GPS position), no XMP, no comment, no ICC profile (colours are
converted to sRGB first, which browsers assume of a picture without one). Names are
random. Nothing is stored until every rendition is made, and what was stored is deleted
if the storage fails midway, so a refused or failed upload leaves no file behind.

Renditions (RENDITION_WIDTHS, never wider than the picture) come in WebP and in a
fallback format: JPEG, or PNG for a PNG or GIF or for a picture with transparency. A GIF
keeps its first frame only. The card's <img> takes the fallback as src and srcset, and
a <source type="image/webp"> the WebP srcset (updates/serialize.py).
"""

import io
import secrets
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypedDict

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from PIL import ExifTags, Image, ImageCms, ImageOps, features

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
DIRECTORY = "pictures"  # in the storage; nothing else is stored there
RENDITION_WIDTHS = (480, 960, 1600)
# A 48-megapixel phone photo (8064 × 6048) passes; its decoded pixels take 150 MB at
# most. Pillow's own limit is set to it too, so that anything else in the process that
# opens a picture holds to the same bound.
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Pillow's names for the formats taken, and only their plugins ever read an upload: the
# many other formats Pillow reads (PSD, TIFF, EPS...) are where its past advisories were.
# AVIF when this Pillow was built with libavif, as its wheels are. HEIC is not taken:
# Pillow reads it only through a plugin of its own (pillow-heif), and iPhones send JPEG
# from a browser's file input.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF") + (("AVIF",) if features.check("avif") else ())
FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "AVIF": "AVIF"}
WEBP = "image/webp"
JPEG = "image/jpeg"
PNG = "image/png"
EXTENSIONS = {WEBP: "webp", JPEG: "jpg", PNG: "png"}
# A rendition between two steps only if it is this much wider than the step below it.
WORTH_ITS_OWN_WIDTH = 1.2
# WebP's method 2 encodes far faster than its default 4 at much the same size (bench/pictures.py
# measures a 12-megapixel upload); JPEG with no optimize or progressive pass, which cost a
# second encode.
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    WEBP: {"format": "WEBP", "quality": 80, "method": 2},
    JPEG: {"format": "JPEG", "quality": 82},
    PNG: {"format": "PNG", "compress_level": 6},
}
# What Pillow raises on bytes that start like a picture and then go wrong.
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
SRGB = ImageCms.createProfile("sRGB")


class PictureRefused(ValueError):
    """An upload that is not a picture liveblog takes; str() is written for a journalist."""


TAKEN = [FORMAT_NAMES[name] for name in ACCEPTED_FORMATS]
# For the file input's accept=: what a browser offers to pick.
TAKEN_CONTENT_TYPES = ",".join(f"image/{name.lower()}" for name in ACCEPTED_FORMATS)
# Lazy: written in the language of the page that shows them (str() of the refusal).
NOT_A_PICTURE = format_lazy(
    _("This file is not a picture: only {formats} and {last} are taken"),
    formats=", ".join(TAKEN[:-1]),
    last=TAKEN[-1],
)
TOO_BIG = format_lazy(_("This picture is over {size} MB"), size=MAX_UPLOAD_BYTES // (1024 * 1024))
TOO_LARGE = format_lazy(
    _("This picture is too large to process (over {megapixels} megapixels)"),
    megapixels=MAX_PIXELS // 1_000_000,
)
DAMAGED_PICTURE = _("This picture is damaged or incomplete")


class Upload(Protocol):
    """Django's File and UploadedFile, as far as store_picture reads them."""

    @property
    def size(self) -> int | None: ...

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]: ...


class RenditionDict(TypedDict):
    width: int
    height: int
    content_type: str
    name: str


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    content_type: str
    name: str


@dataclass(frozen=True)
class StoredPicture:
    """A stored picture's renditions; width and height are its largest one's."""

    width: int
    height: int
    renditions: tuple[Rendition, ...]

    @property
    def original_content_type(self) -> str:
        """The format besides WebP: what a browser without WebP gets, and the <img>'s src."""
        return next(each.content_type for each in self.renditions if each.content_type != WEBP)

    def of_type(self, content_type: str) -> list[Rendition]:
        """The renditions in content_type, narrowest first."""
        return sorted(
            (each for each in self.renditions if each.content_type == content_type),
            key=lambda each: each.width,
        )

    def largest(self, content_type: str) -> Rendition:
        return self.of_type(content_type)[-1]

    def srcset(self, content_type: str, *, url: Callable[[str], str] | None = None) -> str:
        """ "url 480w, url 960w, ..." for an <img> or a <source>; url() makes a storage name
        an address (default_storage.url unless given)."""
        address = url or default_storage.url
        return ", ".join(
            f"{address(each.name)} {each.width}w" for each in self.of_type(content_type)
        )

    def to_json(self) -> list[RenditionDict]:
        return [
            {
                "width": each.width,
                "height": each.height,
                "content_type": each.content_type,
                "name": each.name,
            }
            for each in self.renditions
        ]

    @classmethod
    def from_json(cls, renditions: Iterable[RenditionDict]) -> "StoredPicture":
        return picture_of(tuple(Rendition(**each) for each in renditions))


def picture_of(renditions: tuple[Rendition, ...]) -> StoredPicture:
    widest = max(renditions, key=lambda each: each.width)
    return StoredPicture(width=widest.width, height=widest.height, renditions=renditions)


def store_picture(upload: Upload, *, storage: Storage | None = None) -> StoredPicture:
    """Check, turn upright, strip and resize upload, and store its renditions.

    Raises PictureRefused, with nothing stored, for anything but a whole picture of an
    accepted format within the size and pixel limits. A storage error is raised as it
    is, after deleting whatever was already stored."""
    storage = storage or default_storage
    data = read_within_limit(upload)
    picture = decoded(data)
    files = renditions_of(picture)
    token = secrets.token_hex(16)
    stored: list[Rendition] = []
    try:
        for width, height, content_type, content in files:
            # Sharded so that no directory holds every picture, and none is left empty
            # of one picture's own when it is deleted.
            wanted = f"{DIRECTORY}/{token[:2]}/{token}-{width}.{EXTENSIONS[content_type]}"
            name = storage.save(wanted, ContentFile(content))
            stored.append(Rendition(width, height, content_type, name))
    except BaseException:
        for each in stored:
            storage.delete(each.name)
        raise
    return picture_of(tuple(stored))


def delete_picture(picture: StoredPicture, *, storage: Storage | None = None) -> None:
    storage = storage or default_storage
    for each in picture.renditions:
        storage.delete(each.name)


def stored_names(*, storage: Storage | None = None) -> Iterator[str]:
    """The name of every rendition stored, of every picture."""
    storage = storage or default_storage
    shards, _ = storage.listdir(DIRECTORY)
    for shard in shards:
        _, names = storage.listdir(f"{DIRECTORY}/{shard}")
        yield from (f"{DIRECTORY}/{shard}/{name}" for name in names)


def read_within_limit(upload: Upload) -> bytes:
    """The upload's bytes, refused by its declared size before any is read, and by what
    arrives when it declares none (or too little)."""
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise PictureRefused(TOO_BIG)
    received = bytearray()
    for chunk in upload.chunks():
        received += chunk
        if len(received) > MAX_UPLOAD_BYTES:
            raise PictureRefused(TOO_BIG)
    return bytes(received)


@contextmanager
def pixel_limit() -> Iterator[None]:
    """Refuse a picture declaring more than MAX_PIXELS: Pillow warns up to twice its limit
    and raises beyond. The warning is made an error here; warnings' filters are the
    process's, not the thread's, so opened() also checks the size itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PictureRefused(TOO_LARGE) from None


def opened(data: bytes) -> Image.Image:
    """Pillow's reading of data's header: one of ACCEPTED_FORMATS, within MAX_PIXELS."""
    with pixel_limit():
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except Image.UnidentifiedImageError:
            raise PictureRefused(NOT_A_PICTURE) from None
        except DAMAGED:
            raise PictureRefused(DAMAGED_PICTURE) from None
    if image.width * image.height > MAX_PIXELS:
        raise PictureRefused(TOO_LARGE)
    return image


class Decoded(NamedTuple):
    """An upload's pixels, upright, in RGB or RGBA and sRGB, with no metadata in their
    info; possibly decoded at a smaller scale than the upload's upright size."""

    image: Image.Image
    upload_format: str
    upright_size: tuple[int, int]


def decoded(data: bytes) -> Decoded:
    """data's picture, decoded at the smallest scale the largest rendition allows (for a
    JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 of the size for a fraction of the work)."""
    checked = opened(data)
    try:
        checked.verify()
    except DAMAGED:
        raise PictureRefused(DAMAGED_PICTURE) from None
    image = opened(data)
    upload_format, profile = image.format or "", image.info.get("icc_profile")
    upright_size = image.size[::-1] if sideways(image) else image.size
    if upload_format == "JPEG":
        # Never below what the largest rendition needs; draft takes the stored orientation.
        scale = rendition_widths(upright_size[0])[-1] / upright_size[0]
        image.draft(None, (round(image.width * scale), round(image.height * scale)))
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
    except DAMAGED:
        raise PictureRefused(DAMAGED_PICTURE) from None
    image = in_srgb(image, profile)
    image.info = {}
    return Decoded(image, upload_format, upright_size)


def sideways(image: Image.Image) -> bool:
    """Whether EXIF says the stored pixels are a quarter turn from upright."""
    return image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def in_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """image in RGB or RGBA, converted from its ICC profile to sRGB when it has one that
    littleCMS reads (one it cannot is ignored: the colours may be off, nothing worse)."""
    mode = "RGBA" if has_transparency(image) else "RGB"
    if profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
        else:
            if converted is not None:
                return converted.convert(mode) if converted.mode != mode else converted
    return image.convert(mode) if image.mode != mode else image


def rendition_widths(width: int) -> list[int]:
    """RENDITION_WIDTHS narrower than width, and width itself when it is narrower than
    the largest step and well clear of the step below it."""
    steps = [step for step in RENDITION_WIDTHS if step <= width]
    if width < RENDITION_WIDTHS[-1] and (not steps or width >= steps[-1] * WORTH_ITS_OWN_WIDTH):
        steps.append(width)
    return steps


def fallback_type(upload_format: str, image: Image.Image) -> str:
    if upload_format in ("PNG", "GIF") or image.mode == "RGBA":
        return PNG
    return JPEG


def renditions_of(picture: Decoded) -> list[tuple[int, int, str, bytes]]:
    """(width, height, content type, bytes) of every rendition, widest first: each width
    resized from the one above it, which is both faster and as sharp at these steps."""
    upright_width, upright_height = picture.upright_size
    fallback = fallback_type(picture.upload_format, picture.image)
    made = []
    source = picture.image
    for width in sorted(rendition_widths(upright_width), reverse=True):
        height = max(1, round(upright_height * width / upright_width))
        if source.size != (width, height):
            source = source.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        source.info = {}
        made += [(width, height, kind, encoded(source, kind)) for kind in (WEBP, fallback)]
    return made


def encoded(image: Image.Image, content_type: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **SAVE_OPTIONS[content_type])
    return buffer.getvalue()
