"""Upload to "visible to readers": how long a journalist's 12-megapixel JPEG takes from the
start of the desk's post until a reader's open websocket has the entry with the picture,
against Pillow's own resize of the same file in the same run.

One real Daphne process (liveblog.server's command line, started as fanout.py starts it),
a throwaway SQLite database and MEDIA_ROOT, Redis at redis://127.0.0.1:6379/5 (--redis-url
to change; its asgi:group:* keys are deleted first). This process logs in to the admin as a
journalist, keeps one reader on the event's /ws/live/<slug>/, and --runs times posts the
desk's form (updates/desk.py) as a browser does: multipart, with the file itself
(pictures.py's generated 4000 × 3000 phone photo) and its alt text in the first picture row.
The clock runs from the start of the post to the reader's receipt of the entry.created whose
media holds the picture with its srcset, width and height; when the desk answered is printed
too. Between uploads, alternately, the reference: pictures.py's pillow_resize (open, resize
to 1600 × 1200, JPEG save into memory) of the same bytes, in this process. One of each
first, unmeasured. Exits 1 if any upload reached the reader without its picture whole.

    .venv/bin/python bench/upload.py            # 10 runs each: about 15 seconds
    .venv/bin/python bench/upload.py --runs 30
    .venv/bin/python bench/upload.py --smoke    # 2 runs; exits 1 unless both arrived whole
"""

import argparse
import contextlib
import http.client
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import fanout
import orjson
from websockets.sync.client import ClientConnection, connect

HOST = fanout.HOST  # everything listens and connects on 127.0.0.1
DEFAULT_REDIS_URL = f"redis://{HOST}:6379/5"  # fanout.py uses 3, storm.py 4
USERNAME, PASSWORD = "bench-journalist", "correct horse battery staple"
SMOKE_RUNS = 2
# An upload is through in a few seconds; one that is not in this long is lost.
UPLOAD_SECONDS = 60.0
# How often the wait for the reader's frame looks whether the post failed meanwhile.
POST_CHECK_SECONDS = 0.2


class Journalist:
    """A journalist's browser, as far as the desk needs one: the session's cookies and the
    CSRF token; a connection per request, to 127.0.0.1 only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def form(self, fields: dict) -> tuple[bytes, dict[str, str]]:
        """fields as a browser posts them (multipart, with the CSRF token): the body and
        its headers, made before any clock starts."""
        from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

        token = {"csrfmiddlewaretoken": self.cookies["csrftoken"]}
        return encode_multipart(BOUNDARY, fields | token), {"Content-Type": MULTIPART_CONTENT}

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=UPLOAD_SECONDS)
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers = ({"Cookie": cookie} if cookie else {}) | (headers or {})
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie", []):
            self.cookies.update((each.key, each.value) for each in SimpleCookie(header).values())
        return response.status, content

    def log_in(self) -> None:
        self.request("GET", "/admin/login/")  # for the CSRF cookie
        form = self.form({"username": USERNAME, "password": PASSWORD, "next": "/admin/"})
        status, _ = self.request("POST", "/admin/login/", *form)
        if status != 302:
            raise RuntimeError(f"the admin refused the journalist's login ({status})")


@contextlib.contextmanager
def reader_of(url: str) -> Iterator["Reader"]:
    """One reader of the event, its socket open across the runs, once it has its hello."""
    # No compression (Daphne does not negotiate it), no proxy, no pings of ours.
    with connect(
        url,
        origin=fanout.ORIGIN,
        proxy=None,
        compression=None,
        ping_interval=None,
        open_timeout=10,
        close_timeout=1,
    ) as socket:
        hello = orjson.loads(socket.recv(timeout=10))
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello!r}")
        yield Reader(socket)


@dataclass
class Reader:
    """A reader's open socket, from reader_of()."""

    socket: ClientConnection

    def entry(self, headline: str, posted: Future) -> tuple[dict, float]:
        """The entry.created with this headline, and when it arrived (perf_counter); raises
        as soon as the post has failed, or once UPLOAD_SECONDS have passed."""
        deadline = time.monotonic() + UPLOAD_SECONDS
        while time.monotonic() < deadline:
            try:
                frame = self.socket.recv(timeout=POST_CHECK_SECONDS)
            except TimeoutError:
                if posted.done() and posted.exception():
                    raise posted.exception() from None
                continue
            received = time.perf_counter()
            message = orjson.loads(frame)
            for each in message["messages"] if message["type"] == "batch" else [message]:
                if each["type"] == "entry.created" and each["entry"]["headline"] == headline:
                    return each["entry"], received
        raise TimeoutError(f"the reader did not receive {headline!r} in {UPLOAD_SECONDS:.0f} s")


def journalist_create() -> None:
    """A journalist as the newsroom makes one: staff, in the Journalist group (made by the
    migrations, updates/roles.py), with a profile for the byline."""
    from django.contrib.auth.models import Group, User

    from updates.models import JournalistProfile

    user = User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Journalist"))
    JournalistProfile.objects.create(user=user, display_name="Bench Journalist")


def post_fields(
    headline: str,
    photo: bytes | None,
    body: str = "<p>The count at the leisure centre, from the gallery.</p>",
) -> dict:
    """The desk's post form as a browser sends it, with the photo in its first picture
    row if there is one."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {
        "headline": headline,
        "body": body,
        "byline": "Bench Journalist",
        "published_at": "",  # as of posting
        "embed_url": "",
        "embed_title": "",
        "pictures-TOTAL_FORMS": "0" if photo is None else "1",
        "pictures-INITIAL_FORMS": "0",
        "pictures-MIN_NUM_FORMS": "0",
        "pictures-MAX_NUM_FORMS": "10",
    }
    if photo is None:
        return fields
    return fields | {
        "pictures-0-file": SimpleUploadedFile("photo.jpg", photo, content_type="image/jpeg"),
        "pictures-0-alt": "Counting agents at the tables",
        "pictures-0-caption": "",
        "pictures-0-credit": "",
        "pictures-0-kept": "",
        "pictures-0-ORDER": "1",
    }


def refusal(status: int, page: bytes) -> str:
    """Why the desk did not take a post, as the page it answered says."""
    from django.utils.html import strip_tags

    errors = re.findall(r'<ul class="errorlist.*?</ul>', page.decode(errors="replace"), re.S)
    reasons = "; ".join(" ".join(strip_tags(each).split()) for each in errors)
    return f"the desk answered {status}: {reasons or 'no reason on the page'}"


def upload(
    journalist: Journalist, reader: Reader, desk: str, fields: dict
) -> tuple[dict, float, float]:
    """One post on the desk: the entry as the reader got it, seconds from the start of the
    post to the reader's receipt, and to the desk's answer."""
    body, headers = journalist.form(fields)

    def post() -> float:
        status, page = journalist.request("POST", desk, body, headers)
        if status != 302:  # back to the desk: the entry is published
            raise RuntimeError(refusal(status, page))
        return time.perf_counter()

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.perf_counter()
        posted = pool.submit(post)
        entry, received = reader.entry(fields["headline"], posted)
        answered = posted.result(timeout=UPLOAD_SECONDS)
    return entry, received - started, answered - started


def picture_whole(entry: dict, width: int, height: int) -> bool:
    """The entry carries the picture as readers get it: each rendition in its srcset, and
    the size of the largest (pictures.py's photo scaled to the widest rendition)."""
    from updates.pictures import RENDITION_WIDTHS

    widest = RENDITION_WIDTHS[-1]
    return any(
        item["kind"] == "image"
        and all(f" {each}w" in item["srcset"] for each in RENDITION_WIDTHS)
        and (item["width"], item["height"]) == (widest, widest * height // width)
        for item in entry.get("media", [])
    )


def measure(workdir: Path, redis_url: str, runs: int, smoke: bool) -> int:
    env = fanout.bench_env(f"sqlite:///{workdir / 'bench.sqlite3'}", redis_url, None)
    env["MEDIA_ROOT"] = str(workdir / "media")
    fanout.forget_stale_groups(redis_url)
    event = fanout.setup_django(env)
    journalist_create()
    from django.db import connections
    from django.urls import reverse

    # pictures.py sets Django up as it is imported: only once the environment names this
    # run's database.
    from pictures import HEIGHT, WIDTH, phone_photo

    connections.close_all()  # Daphne writes to the database from now on
    desk = reverse("admin:updates_event_desk", args=[event.pk])
    photo = phone_photo()
    print(f"{WIDTH} × {HEIGHT} JPEG, {len(photo) / 1e6:.1f} MB; {runs} runs each", flush=True)

    daphne = fanout.Daphne(env, workdir / "daphne.log")
    try:
        daphne.wait_until_serving()
        journalist = Journalist(daphne.port)
        journalist.log_in()
        with reader_of(daphne.url) as reader:
            runs_of_each = alternately(journalist, reader, desk, photo, runs)
    except Exception:
        print(f"Daphne's log (tail):\n{daphne.log()}", file=sys.stderr)
        raise
    finally:
        daphne.stop()
    return report(*runs_of_each, smoke=smoke)


def alternately(
    journalist: Journalist, reader: Reader, desk: str, photo: bytes, runs: int
) -> tuple[list[float], list[float], list[float], list[int]]:
    """An upload, then the reference, runs times after one of each unmeasured: the seconds
    to the reader, to the desk's answer, of the reference, and the runs whose picture did
    not reach the reader whole."""
    from pictures import HEIGHT, WIDTH, pillow_resize

    upload(journalist, reader, desk, post_fields("warm-up", photo))
    pillow_resize(photo)
    visible, answered, pillows, broken = [], [], [], []
    for run in range(1, runs + 1):
        entry, seen, done = upload(journalist, reader, desk, post_fields(f"run {run}", photo))
        visible.append(seen)
        answered.append(done)
        if not picture_whole(entry, WIDTH, HEIGHT):
            broken.append(run)
        started = time.perf_counter()
        pillow_resize(photo)
        pillows.append(time.perf_counter() - started)
    return visible, answered, pillows, broken


def report(
    visible: list[float],
    answered: list[float],
    pillows: list[float],
    broken: list[int],
    *,
    smoke: bool,
) -> int:
    """Print the medians and their ratio; 1 if any picture did not reach the reader whole."""
    upload_median, pillow_median = statistics.median(visible), statistics.median(pillows)
    answered_median = statistics.median(answered)
    print(f"upload to visible to readers:       median {upload_median * 1000:6.0f} ms")
    print(f"  (the desk's answer to the post:   median {answered_median * 1000:6.0f} ms)")
    print(f"Pillow open + resize 1600 + save:   median {pillow_median * 1000:6.0f} ms")
    print(f"ratio: {upload_median / pillow_median:.2f}")
    if broken:
        print(f"runs {broken} reached the reader without their picture whole", file=sys.stderr)
        return 1
    if smoke:
        print(f"smoke: all {len(visible)} uploads reached the reader with srcset, width and height")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_RUNS} runs; exit 1 unless every upload reached the reader whole",
    )
    args = parser.parse_args()
    runs = SMOKE_RUNS if args.smoke else args.runs
    with tempfile.TemporaryDirectory(prefix="liveblog-upload-") as directory:
        status = measure(Path(directory), args.redis_url, runs, args.smoke)
    sys.exit(status)


if __name__ == "__main__":
    main()
