"""The upload benchmark runs end to end (a small run): each 12-megapixel JPEG posted on the
desk reaches the reader's socket with its picture whole, and the medians are printed."""

import re

from tests.test_bench_smoke import smoke_run


def test_the_upload_benchmark_brings_every_picture_to_the_reader_whole_in_a_smoke_run(redis_url):
    printed = smoke_run("upload.py", redis_url, timeout=120)

    assert "smoke: all 2 uploads reached the reader with srcset, width and height" in printed
    assert re.search(r"^upload to visible to readers: +median +\d+ ms$", printed, re.M), printed
    assert re.search(r"^Pillow open \+ resize 1600 \+ save: +median +\d+ ms$", printed, re.M)
    assert re.search(r"^ratio: \d+\.\d\d$", printed, re.M), printed
