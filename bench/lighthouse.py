"""Lighthouse's performance audit of the live page as production serves it, with 100
entries of which 20 carry a picture: the score, its metrics, and what a reader's first
view weighs (issue 15: score at least 0.95, first view under 300 KB); and what the live
page and its embed send of HTML, CSS and JavaScript (issue 16: the embed's under 30 KB).

    npm ci --prefix bench                          # once: Lighthouse 12.8, pinned in bench/
    .venv/bin/python bench/lighthouse.py           # mobile, then desktop, 3 runs each: 1 minute
    .venv/bin/python bench/lighthouse.py --check   # exits 1 over the budget
    .venv/bin/python bench/lighthouse.py --form-factors mobile --runs 3
    .venv/bin/python bench/lighthouse.py --photos ~/press/*.jpg --reports /tmp/lighthouse

Needs nginx (Debian's nginx-light), Chromium (--chrome-path, default /usr/bin/chromium),
Node 18.16 or later, and nothing else: a throwaway SQLite database, a temporary MEDIA_ROOT,
no Redis (each server process caches for itself). Everything listens on 127.0.0.1.

The event has 100 live entries of a few paragraphs each, a headline and a byline, four of
them key events; every fifth, the newest first, carries one picture stored as the desk
stores it (updates/pictures.py store_picture: six renditions), from a generated 3000 × 2000
camera JPEG whose detail costs about what a news photo's does (its 960-pixel WebP, the
one a phone's reader gets, about 110 KB: printed) or from --photos. The page is served as
production serves it: deploy/nginx.conf over HTTPS (self-signed: Chromium is told to
ignore it) in front of gunicorn for pages and static files (whitenoise) and Daphne for
the websocket, /media/ from nginx.

Lighthouse runs with its defaults (simulated throttling; mobile: a Moto G Power on slow
4G, desktop: --preset=desktop), without the full-page screenshot the report has no use
for. Printed per form factor (the median run by score; --runs 1 for a quick look, but a
loaded machine costs a run its TBT): the score, FCP, LCP and its element, TBT, CLS; then
the first view, by type: the bytes transferred (headers included, compressed as sent;
1 KB = 1000 bytes) of every request the page made while Lighthouse watched it load, to
the network's and the processor's rest, without scrolling. That is not the requests up
to the load event: whether a lazy picture in or near the first screen starts before
that event or after it is a race, run to run. Nor only the pictures in the first screen:
Chromium fetches a lazy picture (loading="lazy") once it is within a few thousand pixels
of the screen. So the first view is what a reader's browser downloads before they
scroll, and the lines under it say where each picture sits (where a Lighthouse audit
names its element) and what the first screen alone takes (a picture whose place is
unknown counted in). Then the audits Lighthouse flags, with their savings: where to look
when a figure goes wrong.

Then, for the live page and the embed (/live/<slug>/embed/, what another site's iframe
loads), the bytes of the HTML and of the stylesheets and scripts it links, each asked
once with Chromium's Accept-Encoding: the bodies as nginx sends them, compressed (nginx
gzips the page, whitenoise sends its .gz of each static file), headers not counted; and
any of them sent uncompressed. Lighthouse's first view above counts the headers too.

--check exits 1 if, for either form factor, the score is under 0.95, the first view is
300 KB or more, or a request failed; or if the embed's HTML, CSS and JavaScript come to
30 KB or more.
"""

import argparse
import gzip
import os
import random
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # noqa: E402  (the bench environment and Django set-up; same folder)
import reads  # noqa: E402  (the servers, with nginx in front)
from lighthouse_cli import CHROMIUM_ARGS, lighthouse_missing, run_lighthouse  # noqa: E402

ROOT, HOST, SLUG = fanout.ROOT, fanout.HOST, fanout.SLUG
# As the browser tests run Chromium, and: nginx's certificate is its own, self-signed.
CHROME_FLAGS = [*CHROMIUM_ARGS, "--ignore-certificate-errors"]
MIN_SCORE = 0.95
MAX_FIRST_VIEW_BYTES = 300_000
# The embed's HTML, CSS and JavaScript, compressed: what another site's page pays for it
# before any picture (issue 16).
MAX_EMBED_BYTES = 30_000
# What Chromium says it accepts: nginx answers gzip, as it would a reader's browser.
CHROMIUM_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
ENTRIES = 100
PICTURE_EVERY = 5  # the newest entry, and every fifth after it: 20 of 100
KEY_EVENTS = {7, 31, 58, 84}  # counted from the newest, 0 being the newest
ENTRY_SPACING = timedelta(minutes=4)
PHOTO_SIZE = (3000, 2000)
LIGHTHOUSE_SECONDS = 150
TYPES = {"Document": "HTML", "Stylesheet": "CSS", "Script": "JS", "Image": "images"}


# The event ------------------------------------------------------------------------------

PLACES = ["the harbour", "the town hall", "the station", "the count centre", "the bridge"]
PEOPLE = ["the mayor", "a council spokesperson", "the returning officer", "police", "residents"]
HAPPENINGS = [
    "more ballot boxes have arrived at {place}, where staff are checking seals",
    "{person} said turnout in the northern wards looked higher than four years ago",
    "a queue formed outside {place} shortly before the doors opened",
    "{person} confirmed the first results are expected after midnight",
    "traffic around {place} is slow while the roads stay closed for the count",
    "{person} asked people to check the council's website before travelling",
]
DETAILS = [
    "Officials said the process was running to schedule and there had been no complaints.",
    "Our reporter at {place} says the mood is calm but the room is noticeably busier.",
    "{Person} added that every vote would be counted by hand, as in previous years.",
    "The figures are provisional and may change once the postal votes are added.",
    "Volunteers have been handing out water to those waiting outside {place}.",
    "It is the first election in the district since the boundaries were redrawn.",
    "Candidates from all four parties are now inside, watching the tables closely.",
]


def words(rng: random.Random, template: str) -> str:
    person, place = rng.choice(PEOPLE), rng.choice(PLACES)
    return template.format(person=person, Person=person[0].upper() + person[1:], place=place)


def entry_text(rng: random.Random, number: int, *, short: bool) -> tuple[str, str]:
    """A headline and a body of two to four paragraphs, as a live update runs, or one
    short one, as a picture's words run."""
    happening = words(rng, rng.choice(HAPPENINGS))
    headline = happening[0].upper() + happening[1:].split(",")[0]
    written = []
    for index in range(1 if short else rng.randint(2, 4)):
        sentences = [
            words(rng, rng.choice(DETAILS)) for _ in range(rng.randint(0 if short else 2, 3))
        ]
        if index == 0:
            sentences.insert(0, f"Update {number}: {happening}.")
        if rng.random() < 0.3:
            sentences.append(
                f'<a href="https://example.com/results/{number}">Follow the results here</a>.'
            )
        written.append(f"<p>{' '.join(sentences)}</p>")
    return headline, "".join(written)


def camera_photo(seed: int) -> bytes:
    """A 3000 × 2000 JPEG at a camera's quality, of blocks and shapes under several scales
    of texture: no photograph, but its renditions cost about what a detailed news photo's
    do (about 1.5 bits a pixel in WebP at 960 pixels wide), unlike a flat colour (far
    less) or pixel noise (far more)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width, height = PHOTO_SIZE

    def noise(size: tuple[int, int], mode: str) -> Image.Image:
        data = rng.randbytes(size[0] * size[1] * len(mode))
        return Image.frombytes(mode, size, data).resize((width, height), Image.Resampling.BICUBIC)

    image = noise((6, 4), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height // 3, height)
        w, h = rng.randrange(40, width // 5), rng.randrange(80, height // 2)
        colour = tuple(rng.randrange(30, 220) for _ in range(3))
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x, y - h, x + w, y), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.5))
    # Finer texture fainter, as in a photograph's spectrum.
    for cell, weight in ((64, 0.25), (16, 0.2), (4, 0.12), (1, 0.05)):
        texture = noise((width // cell, height // cell), "L")
        image = Image.blend(image, Image.merge("RGB", (texture,) * 3), weight)
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def fill(event, photos: list[Path]) -> list[dict]:
    """ENTRIES live entries, the newest a minute old; returns the pictures' media items."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from updates.media import picture_item
    from updates.pictures import store_picture
    from updates.services import entry_publish

    rng = random.Random(15)
    newest = timezone.now() - timedelta(minutes=1)
    items = []
    for age in reversed(range(ENTRIES)):  # oldest first, as they were posted
        with_picture = age % PICTURE_EVERY == 0
        headline, body = entry_text(rng, ENTRIES - age, short=with_picture)
        media = []
        if with_picture:
            number = age // PICTURE_EVERY
            data = photos[number % len(photos)].read_bytes() if photos else camera_photo(number)
            picture = store_picture(SimpleUploadedFile(f"photo-{number}.jpg", data))
            media = [
                picture_item(
                    picture,
                    alt=f"Counting staff at a table, picture {number + 1}",
                    caption="Staff begin sorting the ballot papers.",
                    credit="Photo: Bench Agency",
                )
            ]
            items += media
        entry_publish(
            event=event,
            author=None,
            headline=headline,
            body=body,
            byline=rng.choice(["Sam Okafor, at the count", "Ana Ruiz, political reporter"]),
            published_at=newest - ENTRY_SPACING * age,
            key_event=age in KEY_EVENTS,
            media=media,
        )
    return items


def rendition_sizes(item: dict, media_root: Path) -> str:
    return ", ".join(
        f"{each['width']} {each['content_type'].removeprefix('image/')} "
        f"{(media_root / each['name']).stat().st_size / 1000:.0f} KB"
        for each in sorted(item["picture"], key=lambda each: each["width"])
    )


# Lighthouse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # HTML, CSS, JS, images, or Lighthouse's resource type
    url: str
    bytes: int  # transferred: headers included, compressed as sent
    top: float | None  # a picture's place on the page, in CSS pixels, where Lighthouse says


@dataclass
class Run:
    form_factor: str
    score: float
    metrics: dict[str, float]  # ms; CLS has no unit
    lcp_element: str
    screen_height: int
    requests: list[Request]
    failed: list[str]
    flagged: list[str]

    @property
    def first_view(self) -> int:
        return sum(each.bytes for each in self.requests)

    def by_kind(self, requests: list[Request]) -> str:
        kinds: dict[str, int] = {}
        for each in requests:
            kinds[each.kind] = kinds.get(each.kind, 0) + each.bytes
        return ", ".join(f"{kind} {size / 1000:.1f}" for kind, size in sorted(kinds.items()))

    def below_first_screen(self, request: Request) -> bool:
        return request.top is not None and request.top >= self.screen_height


def read_run(report: dict, form_factor: str) -> Run:
    audits = report["audits"]
    listed = audits["network-requests"]["details"]
    tops = picture_tops(audits)
    requests, failed = [], []
    for request in listed["items"]:
        if not request["url"].startswith("https://"):
            continue  # data: URLs (the favicon) cost nothing
        status = request.get("statusCode", 0)
        # 101: the websocket's handshake.
        if (not request.get("finished") and status != 101) or status >= 400:
            failed.append(f"{status} {request['url']}")
        requests.append(
            Request(
                kind=TYPES.get(request["resourceType"], request["resourceType"] or "other"),
                url=request["url"],
                bytes=request.get("transferSize") or 0,
                top=tops.get(request["url"]),
            )
        )
    element = audits["largest-contentful-paint-element"].get("details", {}).get("items", [])
    node = element[0]["items"][0]["node"] if element and element[0]["items"] else {}
    return Run(
        form_factor=form_factor,
        score=report["categories"]["performance"]["score"],
        metrics={
            name: audits[audit]["numericValue"]
            for name, audit in (
                ("FCP", "first-contentful-paint"),
                ("LCP", "largest-contentful-paint"),
                ("TBT", "total-blocking-time"),
                ("CLS", "cumulative-layout-shift"),
                ("SI", "speed-index"),
            )
        },
        lcp_element=node.get("snippet", "?")[:100],
        screen_height=report["configSettings"]["screenEmulation"]["height"],
        requests=requests,
        failed=failed,
        flagged=failed_audits(report),
    )


def picture_tops(audits: dict) -> dict[str, float]:
    """Where on the page each picture Lighthouse names with its element sits (the image
    audits name those they find fault with): the top of its <img>, by address."""
    tops: dict[str, float] = {}

    def visit(value) -> None:
        if isinstance(value, dict):
            node = value.get("node")
            if "url" in value and isinstance(node, dict) and "boundingRect" in node:
                tops[value["url"]] = node["boundingRect"]["top"]
            value = list(value.values())
        if isinstance(value, list):
            for each in value:
                visit(each)

    visit([audit.get("details") for audit in audits.values()])
    return tops


def failed_audits(report: dict) -> list[str]:
    """The performance audits Lighthouse marks failed, with their savings."""
    found = []
    for ref in report["categories"]["performance"]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if audit.get("scoreDisplayMode") not in ("numeric", "binary", "metricSavings"):
            continue
        if audit.get("score") is None or audit["score"] >= 0.9 or ref.get("group") == "metrics":
            continue
        shown = audit.get("displayValue", "")
        found.append(f"{audit['title']}{f': {shown}' if shown else ''}")
    return found


def print_run(run: Run, runs: list[Run]) -> None:
    scores = f" (runs: {', '.join(f'{each.score:.2f}' for each in runs)})" if len(runs) > 1 else ""
    metrics = run.metrics
    print(f"{run.form_factor}: performance {run.score:.2f}{scores}")
    print(
        f"  FCP {metrics['FCP'] / 1000:.2f} s, LCP {metrics['LCP'] / 1000:.2f} s, "
        f"TBT {metrics['TBT']:.0f} ms, CLS {metrics['CLS']:.3f}, SI {metrics['SI'] / 1000:.2f} s"
    )
    print(f"  LCP element: {run.lcp_element}")
    print(f"  first view: {run.first_view / 1000:.1f} KB ({run.by_kind(run.requests)})")
    for each in run.requests:
        if each.kind == "images":
            where = "place unknown" if each.top is None else f"top at {each.top:.0f} px"
            below = " (below the first screen)" * run.below_first_screen(each)
            print(f"    {each.bytes / 1000:6.1f} KB  {each.url.rsplit('/', 1)[-1]}: {where}{below}")
    first_screen = [each for each in run.requests if not run.below_first_screen(each)]
    print(
        f"  of which for the first screen ({run.screen_height} px high): "
        f"{sum(each.bytes for each in first_screen) / 1000:.1f} KB ({run.by_kind(first_screen)})"
    )
    for problem in run.failed:
        print(f"  failed request: {problem}")
    for audit in run.flagged:
        print(f"  Lighthouse flags: {audit}")


def over_budget(run: Run) -> list[str]:
    problems = [f"{run.form_factor}: request failed: {each}" for each in run.failed]
    if run.score < MIN_SCORE:
        problems.append(f"{run.form_factor}: performance {run.score:.2f} < {MIN_SCORE}")
    if run.first_view >= MAX_FIRST_VIEW_BYTES:
        problems.append(
            f"{run.form_factor}: first view {run.first_view / 1000:.1f} KB"
            f" >= {MAX_FIRST_VIEW_BYTES / 1000:.0f} KB"
        )
    return problems


# The page and the embed, compressed ---------------------------------------------------


@dataclass(frozen=True)
class Sent:
    kind: str  # HTML, CSS or JS
    path: str
    bytes: int  # the body as sent, without headers
    encoding: str  # its Content-Encoding: gzip, or identity for none


@dataclass(frozen=True)
class Weight:
    """A page's HTML, CSS and JavaScript as nginx sends them to a browser: the bodies,
    compressed (nginx gzips the page, whitenoise sends its .gz of each static file)."""

    label: str
    path: str
    files: list[Sent]

    @property
    def total(self) -> int:
        return sum(each.bytes for each in self.files)

    def __str__(self) -> str:
        kinds = ", ".join(
            f"{kind} {sum(each.bytes for each in self.files if each.kind == kind) / 1000:.1f}"
            for kind in ("HTML", "CSS", "JS")
        )
        lines = [f"{self.label} {self.path}: {kinds}: {self.total / 1000:.1f} KB"]
        lines += [
            f"    sent uncompressed: {each.path} ({each.bytes / 1000:.1f} KB)"
            for each in self.files
            if each.encoding == "identity"
        ]
        return "\n".join(lines)


class Subresources(HTMLParser):
    """The stylesheets and scripts a page links, by type."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "link" and named.get("rel") == "stylesheet" and named.get("href"):
            self.found.append(("CSS", named["href"]))
        elif tag == "script" and named.get("src"):
            self.found.append(("JS", named["src"]))


def sent(server: reads.Server, path: str) -> tuple[bytes, str]:
    """The body as nginx sends it to Chromium, and its Content-Encoding."""
    request = urllib.request.Request(
        server.base + path, headers={"Accept-Encoding": CHROMIUM_ACCEPT_ENCODING}
    )
    with reads.opener().open(request, timeout=10) as response:
        return response.read(), response.headers.get("Content-Encoding", "identity")


def weigh(server: reads.Server, label: str, path: str) -> Weight:
    body, encoding = sent(server, path)
    if encoding not in ("gzip", "identity"):
        raise RuntimeError(f"{path} came as {encoding}: this knows only gzip")
    page = Subresources()
    page.feed((gzip.decompress(body) if encoding == "gzip" else body).decode())
    files = [Sent("HTML", path, len(body), encoding)]
    for kind, address in page.found:
        body, encoding = sent(server, urljoin(path, address))
        files.append(Sent(kind, address, len(body), encoding))
    return Weight(label, path, files)


# Running it -----------------------------------------------------------------------------


def check_served(server: reads.Server, page: str, picture: str) -> None:
    """The page shows entries, and nginx serves the pictures from MEDIA_ROOT."""
    # Each gunicorn worker renders and caches the page once: warm them all.
    for _ in range(2 * reads.gunicorn_workers()):
        status, body = server.get(page)
        if status != 200 or b'class="entry' not in body:
            raise RuntimeError(f"{page} answered {status}: {body[:300]!r}")
    with reads.opener().open(server.base + picture, timeout=10) as response:
        if "immutable" not in response.headers.get("Cache-Control", ""):
            raise RuntimeError(f"{picture} was not served by nginx's /media/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--form-factors", nargs="+", choices=["mobile", "desktop"], default=["mobile", "desktop"]
    )
    parser.add_argument("--runs", type=int, default=3, help="per form factor; the median counts")
    parser.add_argument("--check", action="store_true", help="exit 1 over the budget")
    parser.add_argument("--chrome-path", default=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    parser.add_argument(
        "--photos", nargs="+", type=Path, default=[], help="pictures to post instead, in turn"
    )
    parser.add_argument("--reports", type=Path, help="keep Lighthouse's JSON reports here")
    args = parser.parse_args()
    if missing := lighthouse_missing():
        parser.error(missing)
    if reads.local_nginx.nginx_binary() is None:
        parser.error("needs nginx: apt-get install nginx-light")
    if not os.access(args.chrome_path, os.X_OK):
        parser.error(f"no Chromium at {args.chrome_path}: --chrome-path")

    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="liveblog-lighthouse-") as tmp:
        directory = Path(tmp)
        media_root = directory / "media"
        database = f"sqlite:///{directory / 'db.sqlite3'}"
        env = reads.server_env(database, redis_url="") | {"MEDIA_ROOT": str(media_root)}
        event = fanout.setup_django(env)
        started = time.monotonic()
        pictures = fill(event, args.photos)
        print(
            f"{ENTRIES} entries, {len(pictures)} with a picture, written in "
            f"{time.monotonic() - started:.0f} s; the newest picture's renditions: "
            f"{rendition_sizes(pictures[-1], media_root)}"
        )
        server = reads.NginxInFront(env, directory, daphne=True, media_root=media_root)
        try:
            server.wait_until_serving()
            page = f"/live/{SLUG}/"
            check_served(server, page, "/media/" + pictures[-1]["picture"][0]["name"])
            live, embed = weigh(server, "live page", page), weigh(server, "embed", f"{page}embed/")
            reports = args.reports or directory
            reports.mkdir(parents=True, exist_ok=True)
            for form_factor in args.form_factors:
                for number in range(args.runs):
                    output = reports / f"lighthouse-{form_factor}-{number + 1}.json"
                    report = run_lighthouse(
                        server.base + page,
                        output,
                        categories=["performance"],
                        form_factor=form_factor,
                        chrome=args.chrome_path,
                        chrome_flags=CHROME_FLAGS,
                        timeout=LIGHTHOUSE_SECONDS,
                    )
                    runs.setdefault(form_factor, []).append(read_run(report, form_factor))
        except BaseException:
            print(f"The servers' logs:\n{server.log()}")
            raise
        finally:
            server.stop()

    problems = []
    for each in runs.values():
        median = sorted(each, key=lambda run: run.score)[len(each) // 2]
        print_run(median, each)
        problems += over_budget(median)
    print("HTML, CSS and JavaScript as nginx sends them (bodies, compressed):")
    print(f"  {live}\n  {embed}")
    if embed.total >= MAX_EMBED_BYTES:
        problems.append(f"embed: {embed.total / 1000:.1f} KB >= {MAX_EMBED_BYTES / 1000:.0f} KB")
    print(
        f"Budget: performance >= {MIN_SCORE}, first view < {MAX_FIRST_VIEW_BYTES / 1000:.0f} KB,"
        f" the embed's HTML, CSS and JavaScript < {MAX_EMBED_BYTES / 1000:.0f} KB:"
        f" {'over' if problems else 'within'}"
    )
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
