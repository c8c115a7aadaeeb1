"""What one publish costs on the wire per reader: the bytes of a typical entry's frame, whole
and compact, and what permessage-deflate would save against the CPU it costs.

    .venv/bin/python bench/frames.py             # about 10 seconds
    .venv/bin/python bench/frames.py --runs 5000

Three typical entries are published into a throwaway SQLite database (a few paragraphs
with a link; the same with a phone photo, stored as uploads are; the same with a video
embed), and each one's "entry.created" frame is built by the real code
(updates/live/broadcast.py, entry_change_frame), in both encodings. Printed per entry:

- the frame's bytes with the whole ENTRY, as a client that asks nothing gets it, and
  deflated as permessage-deflate sends a message with no context takeover (raw deflate,
  zlib level 6);
- the compact frame's bytes (?entry=card: the card and what places it, without the raw
  fields the card already shows), as the live page gets it, and deflated;
- the card's HTML alone (entry.html);
- the median CPU time to deflate the whole frame once, measured against the median time
  to encode it (orjson.dumps of the same message), the reference in the same run.

Compressing per connection costs that CPU once per reader (autobahn's permessage-deflate
compresses each connection's frames itself, and keeps a compressor per connection);
compressed once per publish, the same bytes go to every reader that negotiated
server_no_context_takeover.
"""

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
WORKDIR = Path(tempfile.mkdtemp(prefix="liveblog-frames-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'db.sqlite3'}"
os.environ["MEDIA_ROOT"] = str(WORKDIR / "media")
os.environ["REDIS_URL"] = ""
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402

from updates import media  # noqa: E402
from updates.live.broadcast import ENTRY_CREATED, entry_change_frame  # noqa: E402
from updates.pictures import store_picture  # noqa: E402
from updates.services import entry_publish, event_create  # noqa: E402

BODY = (
    "<p>The returning officer has confirmed a full recount in Eastgate after the margin "
    "between the two leading candidates fell to 14 votes on the first count.</p>"
    "<p>Agents for both campaigns are at the tables. Turnout in the ward was 61 per cent, "
    'up from 54 at the last election, <a href="https://example.org/results">according '
    "to the council's figures</a>.</p>"
    "<p>A result is not expected before 3am.</p>"
)
DEFLATE_LEVEL = 6  # zlib's default, and autobahn's


def phone_photo() -> SimpleUploadedFile:
    picture = Image.effect_noise((1600, 1200), 40).convert("RGB")
    data = io.BytesIO()
    picture.save(data, "JPEG", quality=85)
    return SimpleUploadedFile("IMG_0001.jpg", data.getvalue(), content_type="image/jpeg")


def typical_entries() -> dict[str, object]:
    call_command("migrate", verbosity=0)
    author = User.objects.create_user("sam", is_staff=True)
    author.groups.add(Group.objects.get(name="Journalist"))  # the migrations made it
    event = event_create(title="Harbourside by-election", slug="harbourside", summary="The count.")
    words = {
        "headline": "Recount called in Eastgate after a 14-vote margin",
        "body": BODY,
        "byline": "Sam Okafor, Political Correspondent",
    }
    photo = media.picture_item(
        store_picture(phone_photo()),
        alt="Counters at the Eastgate table",
        caption="The recount begins",
        credit="Sam Okafor",
    )
    video = {
        "kind": "embed",
        "provider": "youtube",
        "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "title": "The declaration",
    }
    return {
        "words": entry_publish(event=event, author=author, **words),
        "words and a photo": entry_publish(event=event, author=author, media=[photo], **words),
        "words and a video": entry_publish(event=event, author=author, media=[video], **words),
    }


def deflated(frame: bytes) -> bytes:
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(frame) + compressor.flush(zlib.Z_SYNC_FLUSH)


def median_seconds(work, argument, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work(argument)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    runs = parser.parse_args().runs
    print(
        f"{'entry':<20}{'frame':>8}{'deflated':>10}{'compact':>9}{'deflated':>10}{'card':>7}"
        f"{'deflate µs':>12}{'encode µs':>11}{'ratio':>7}"
    )
    for name, entry in typical_entries().items():
        whole, compact = (
            frame.encode() for frame in entry_change_frame(ENTRY_CREATED, entry).frames
        )
        message = orjson.loads(whole)
        card = message["entry"]["html"].encode()
        deflate_time = median_seconds(deflated, whole, runs)
        encode_time = median_seconds(orjson.dumps, message, runs)
        print(
            f"{name:<20}{len(whole):>8}{len(deflated(whole)):>10}"
            f"{len(compact):>9}{len(deflated(compact)):>10}{len(card):>7}"
            f"{deflate_time * 1e6:>12.1f}{encode_time * 1e6:>11.1f}"
            f"{deflate_time / encode_time:>6.1f}x"
        )
    print(
        "\nbytes; 'frame': the whole ENTRY (clients that ask nothing); 'compact': ?entry=card "
        "(the live page); each deflated with no context takeover;\n'card': the card's HTML; "
        "ratio: deflating the whole frame once against encoding it once (orjson), medians of "
        f"{runs} runs each."
    )


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORKDIR)
