"""An uploaded picture is judged by its bytes, stored upright and without metadata in
every rendition, or refused with a message for the journalist and nothing stored."""

import io
import subprocess
import zlib
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageCms

from tests.servers import django_process
from updates.pictures import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    PictureRefused,
    StoredPicture,
    delete_picture,
    store_picture,
)

GPS = ExifTags.IFD.GPSInfo
ORIENTATION = ExifTags.Base.Orientation


@pytest.fixture
def storage(tmp_path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "media", base_url="/media/")


def stored_files(storage: FileSystemStorage) -> list[Path]:
    return [path for path in Path(storage.location).rglob("*") if path.is_file()]


def photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A gradient under noise: content an encoder has to work for, unlike a flat colour."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 30).convert("L")
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    return image.convert(mode)


def upload(image: Image.Image, format: str, name: str = "photo", **options) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ORIENTATION] = orientation
    exif[GPS] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (51.0, 30.0, 26.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0),
    }
    return exif


def read_back(storage: FileSystemStorage, name: str) -> Image.Image:
    with storage.open(name) as stored:
        image = Image.open(io.BytesIO(stored.read()))
        image.load()
    return image


def assert_refused(storage, file, message: str) -> None:
    with pytest.raises(PictureRefused) as refused:
        store_picture(file, storage=storage)
    assert str(refused.value) == message
    assert stored_files(storage) == []


def bomb_png(width: int, height: int) -> bytes:
    """A real one-bit PNG of width × height white pixels: a few kilobytes that decode to
    width × height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    row = b"\0" + b"\xff" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# With an ICC profile, the colours are converted to sRGB; without, the pixels go as they are.
@pytest.mark.parametrize("profile", [SRGB_PROFILE, b""], ids=["with ICC profile", "without"])
def test_a_phone_photo_with_gps_is_stored_without_any_metadata_in_every_rendition(storage, profile):
    file = upload(
        photo(2000, 1500),
        "JPEG",
        exif=gps_exif(),
        icc_profile=profile,
        comment=b"shot at 51.5N 0.1W",
        xmp=b"<x:xmpmeta><exif:GPSLatitude>51,30N</exif:GPSLatitude></x:xmpmeta>",
    )
    assert Image.open(file).getexif().get_ifd(GPS)  # the upload does carry a position
    file.seek(0)

    picture = store_picture(file, storage=storage)

    assert len(picture.renditions) == 6
    assert len(stored_files(storage)) == 6
    for rendition in picture.renditions:
        stored = read_back(storage, rendition.name)
        assert stored.getexif() == {}
        assert {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"}.isdisjoint(
            stored.info
        ), rendition
        assert b"51.5N" not in Path(storage.path(rendition.name)).read_bytes()
        assert stored.size == (rendition.width, rendition.height)
        assert Image.MIME[stored.format] == rendition.content_type


def test_a_12_megapixel_photo_gets_three_widths_in_webp_and_jpeg(storage):
    picture = store_picture(upload(photo(4000, 3000), "JPEG", quality=90), storage=storage)

    assert (picture.width, picture.height) == (1600, 1200)
    assert [(each.width, each.height, each.content_type) for each in picture.renditions] == [
        (1600, 1200, "image/webp"),
        (1600, 1200, "image/jpeg"),
        (960, 720, "image/webp"),
        (960, 720, "image/jpeg"),
        (480, 360, "image/webp"),
        (480, 360, "image/jpeg"),
    ]
    assert picture.original_content_type == "image/jpeg"
    assert picture.largest("image/webp").width == 1600
    for rendition in picture.renditions:
        assert read_back(storage, rendition.name).mode == "RGB"
    assert picture.srcset("image/jpeg", url=storage.url) == ", ".join(
        f"/media/{each.name} {each.width}w" for each in picture.of_type("image/jpeg")
    )


def test_a_rotated_phone_photo_is_stored_upright(storage):
    # A phone held upright stores landscape pixels and EXIF orientation 6 (turn 90° clockwise).
    landscape = photo(1200, 900)
    landscape.paste((255, 0, 0), (0, 0, 100, 100))  # red in the top left as stored
    file = upload(landscape, "JPEG", exif=gps_exif(orientation=6))

    picture = store_picture(file, storage=storage)

    assert (picture.width, picture.height) == (900, 1200)
    for rendition in picture.renditions:
        stored = read_back(storage, rendition.name)
        assert stored.height > stored.width
        assert ORIENTATION not in stored.getexif()
        # Turned clockwise, the stored top-left corner is the top right.
        red, green, blue = stored.convert("RGB").getpixel((stored.width - 5, 5))
        assert red > 200 and green < 60 and blue < 60, rendition


def test_file_names_are_random_and_never_the_uploaders(storage):
    first = store_picture(upload(photo(600, 400), "JPEG", name="minister.jpg"), storage=storage)
    second = store_picture(upload(photo(600, 400), "JPEG", name="minister.jpg"), storage=storage)

    names = [each.name for each in first.renditions + second.renditions]
    assert not any("minister" in name for name in names)
    assert len(set(names)) == len(names) == 8


def test_a_png_with_transparency_keeps_it_in_webp_and_png(storage):
    image = photo(1000, 500, "RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))

    picture = store_picture(upload(image, "PNG"), storage=storage)

    assert {each.content_type for each in picture.renditions} == {"image/webp", "image/png"}
    assert [each.width for each in picture.of_type("image/png")] == [480, 960]
    for rendition in picture.renditions:
        assert read_back(storage, rendition.name).mode == "RGBA"


def test_a_gif_keeps_its_first_frame_as_png(storage):
    frames = [Image.new("P", (300, 200), colour) for colour in (1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])

    picture = store_picture(SimpleUploadedFile("a.gif", buffer.getvalue()), storage=storage)

    # Narrower than the smallest step: its own width only.
    assert [(each.width, each.content_type) for each in picture.renditions] == [
        (300, "image/webp"),
        (300, "image/png"),
    ]
    assert getattr(read_back(storage, picture.renditions[0].name), "n_frames", 1) == 1


def test_a_picture_between_two_steps_is_also_stored_at_its_own_width(storage):
    picture = store_picture(upload(photo(1300, 650), "WEBP"), storage=storage)

    assert [each.width for each in picture.of_type("image/webp")] == [480, 960, 1300]
    assert [each.width for each in picture.of_type("image/jpeg")] == [480, 960, 1300]


def test_the_renditions_go_through_json_and_back(storage):
    picture = store_picture(upload(photo(1000, 750), "JPEG"), storage=storage)

    assert StoredPicture.from_json(picture.to_json()) == picture
    assert picture.to_json()[0] == {
        "width": 960,
        "height": 720,
        "content_type": "image/webp",
        "name": picture.renditions[0].name,
    }


def test_deleting_a_picture_deletes_its_files(storage):
    picture = store_picture(upload(photo(1000, 750), "JPEG"), storage=storage)

    delete_picture(picture, storage=storage)

    assert stored_files(storage) == []


def test_an_svg_is_refused(storage):
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>"
    )
    file = SimpleUploadedFile("chart.svg", svg, content_type="image/svg+xml")
    assert_refused(
        storage, file, "This file is not a picture: only JPEG, PNG, WebP, GIF and AVIF are taken"
    )


def test_an_html_file_named_jpg_is_refused(storage):
    html = b"<!doctype html><html><body><script>document.cookie</script></body></html>"
    file = SimpleUploadedFile("photo.jpg", html, content_type="image/jpeg")
    assert_refused(
        storage, file, "This file is not a picture: only JPEG, PNG, WebP, GIF and AVIF are taken"
    )


def test_a_truncated_jpeg_is_refused(storage):
    whole = upload(photo(800, 600), "JPEG").read()
    file = SimpleUploadedFile("photo.jpg", whole[: len(whole) // 2])
    assert_refused(storage, file, "This picture is damaged or incomplete")


def test_a_decompression_bomb_is_refused_before_it_is_decoded(storage):
    # 400 megapixels in about 50 KB: Pillow raises beyond twice its limit.
    file = SimpleUploadedFile("bomb.png", bomb_png(20_000, 20_000))
    assert file.size < 100_000
    assert_refused(storage, file, "This picture is too large to process (over 50 megapixels)")


def test_a_picture_just_over_the_pixel_limit_is_refused(storage):
    # Between the limit and twice it, Pillow only warns: that is a refusal too.
    width = 8_000
    height = MAX_PIXELS // width + 1_000
    assert MAX_PIXELS < width * height < 2 * MAX_PIXELS
    file = SimpleUploadedFile("big.png", bomb_png(width, height))
    assert_refused(storage, file, "This picture is too large to process (over 50 megapixels)")


def test_a_file_over_25_mb_is_refused_without_being_read(storage, tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(upload(photo(100, 100), "JPEG").read() + bytes(26 * 1024 * 1024))
    assert path.stat().st_size > MAX_UPLOAD_BYTES
    with path.open("rb") as opened:
        assert_refused(storage, File(opened, name="huge.jpg"), "This picture is over 25 MB")
        assert opened.tell() == 0


class DiskFullAfter(FileSystemStorage):
    """A real file system storage whose disk fills after `room` files."""

    def __init__(self, room: int, **options) -> None:
        super().__init__(**options)
        self.room = room

    def _save(self, name, content):
        if self.room == 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        return super()._save(name, content)


def test_a_storage_failing_midway_leaves_no_file_and_is_raised_as_it_is(tmp_path):
    storage = DiskFullAfter(3, location=tmp_path / "media")

    with pytest.raises(OSError, match="No space left"):
        store_picture(upload(photo(2000, 1500), "JPEG"), storage=storage)

    assert stored_files(storage) == []


def settings_storage(**environment: str) -> subprocess.CompletedProcess[str]:
    """The default storage and a picture's address under these settings."""
    return django_process(
        "from django.core.files.storage import storages\n"
        "s = storages['default']\n"
        "print(type(s).__module__, type(s).__name__, s.url('pictures/ab/ab-480.webp'))",
        **environment,
    )


def test_pictures_are_files_under_media_root_by_default():
    started = settings_storage()
    assert started.stdout.split() == [
        "django.core.files.storage.filesystem",
        "FileSystemStorage",
        "/media/pictures/ab/ab-480.webp",
    ], started.stderr


def test_a_bucket_in_the_environment_stores_pictures_there_at_plain_public_addresses():
    started = settings_storage(
        MEDIA_S3_BUCKET="liveblog-pictures",
        MEDIA_S3_ENDPOINT_URL="https://s3.example.net",
        MEDIA_S3_REGION="nl-ams",
        MEDIA_S3_CUSTOM_DOMAIN="pictures.example.org",
    )
    assert started.stdout.split() == [
        "storages.backends.s3",
        "S3Storage",
        "https://pictures.example.org/pictures/ab/ab-480.webp",
    ], started.stderr


def test_bucket_settings_without_a_bucket_stop_the_start():
    started = settings_storage(MEDIA_S3_ENDPOINT_URL="https://s3.example.net")
    assert started.returncode != 0
    assert "MEDIA_S3_* is set but MEDIA_S3_BUCKET is not" in started.stderr
