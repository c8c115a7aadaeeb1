"""How long store_picture takes with a 12-megapixel phone photo, against Pillow's own
resize of the same file: the cost of making an upload safe before readers can see it.

Each run of store_picture checks the bytes, decodes (a JPEG at the smallest scale its
largest rendition allows), turns the picture upright, converts it, and writes six
renditions (480, 960 and 1600 pixels wide, in WebP and JPEG) to a FileSystemStorage in a
temporary directory. Each run of the baseline is Pillow's plainest way to the largest of
them: Image.open(...).resize((1600, 1200)) and a JPEG save into memory. Both take the same
bytes, alternately, in one process; the medians of --runs runs of each are printed, and
their ratio.

    .venv/bin/python bench/pictures.py            # 10 runs each: about 10 seconds
    .venv/bin/python bench/pictures.py --runs 30
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")

import django  # noqa: E402

django.setup()

from django.core.files.storage import FileSystemStorage  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from updates.pictures import store_picture  # noqa: E402

WIDTH, HEIGHT = 4000, 3000


def phone_photo() -> bytes:
    """A 4000 × 3000 JPEG at a phone's quality: gradients with soft shapes and sensor
    noise, which an encoder has to work for, unlike a flat colour."""
    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    shapes = Image.effect_noise((WIDTH // 8, HEIGHT // 8), 90).resize((WIDTH, HEIGHT))
    shapes = shapes.filter(ImageFilter.GaussianBlur(4))
    image = Image.merge("RGB", (gradient, shapes, gradient.transpose(Image.Transpose.ROTATE_180)))
    grain = Image.effect_noise((WIDTH, HEIGHT), 20).convert("RGB")
    image = Image.blend(image, grain, 0.08)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def pillow_resize(data: bytes) -> None:
    Image.open(io.BytesIO(data)).resize((1600, 1200)).save(io.BytesIO(), "JPEG")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    data = phone_photo()
    print(f"{WIDTH} × {HEIGHT} JPEG, {len(data) / 1e6:.1f} MB; {runs} runs each", flush=True)
    ours, pillows = [], []
    with tempfile.TemporaryDirectory() as directory:
        storage = FileSystemStorage(location=directory)
        store_picture(SimpleUploadedFile("warm.jpg", data), storage=storage)
        pillow_resize(data)
        for _ in range(runs):
            started = time.perf_counter()
            store_picture(SimpleUploadedFile("photo.jpg", data), storage=storage)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            pillow_resize(data)
            pillows.append(time.perf_counter() - started)
    store, pillow = statistics.median(ours), statistics.median(pillows)
    print(f"store_picture (6 renditions):        median {store * 1000:6.0f} ms")
    print(f"Pillow open + resize 1600 + save:   median {pillow * 1000:6.0f} ms")
    print(f"ratio: {store / pillow:.2f}")


if __name__ == "__main__":
    main()
