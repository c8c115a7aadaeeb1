"""Demo content for a first look: one live event, a dozen entries, its key points, and a
newsroom of three (a journalist, an editor, a contributor whose posts wait for approval).

Safe to run again: the event and its entries are made once; the accounts' passwords are
set anew and printed each time.
"""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.utils import timezone

from updates.models import Event, JournalistProfile
from updates.services import entry_publish, event_create

SLUG = "harbourside-by-election"

# An invented by-election in an invented town, written for this project.
ENTRIES = [
    (
        "Polls are open",
        "<p>Polling stations across Harbourside opened at 7am and close at 10pm. "
        "Six candidates are standing to replace the late Margaret Ojo, who held the seat for 18 years.</p>",
    ),
    (
        "Steady queues in the Old Town",
        "<p>Presiding officers at St Brendan's school report a "
        "<strong>steady stream</strong> of voters since the morning rush, with queues of up to twenty "
        "minutes at lunchtime.</p>",
    ),
    (
        "What is at stake",
        "<p>Three things to watch tonight:</p><ul><li>Whether the Harbour "
        "Alliance can hold a majority of 4,312</li><li>Turnout, which fell to 41% at the last "
        "by-election here</li><li>The Greens' vote in the new marina wards</li></ul>",
    ),
    (
        "Ferry strike adds to turnout worries",
        "<p>The ferry strike has left island voters "
        "relying on a single council launch. The returning officer says postal votes from the "
        "islands have been <em>unusually high</em>.</p>",
    ),
    (
        "Candidates make their final pitch",
        "<blockquote><p>Every vote in Harbourside counts "
        "twice tonight: once for the town, once for the message it sends.</p></blockquote>"
        "<p>So said the Alliance candidate, Tomas Reyes, outside the fish market this afternoon.</p>",
    ),
    (
        "Polls have closed",
        "<p>Voting has ended. Ballot boxes are on their way to the count at "
        "the Harbourside Leisure Centre.</p>",
    ),
    (
        "First boxes arrive at the count",
        "<p>The first ballot boxes, from the Northgate wards, "
        "reached the leisure centre at 10.41pm. Verification has begun.</p>",
    ),
    (
        "Turnout: 46.2%",
        "<h3>Up five points on last time</h3><p>The returning officer has "
        "announced a turnout of 46.2%, higher than most observers expected on a wet November "
        "night.</p>",
    ),
    (
        "Recount talk in the marina wards",
        "<p>Counting agents for two parties are watching the "
        "marina ward bundles closely. Sources on the floor say the gap between second and third "
        "place is <strong>fewer than 200 votes</strong>.</p>",
    ),
    (
        "Analysis: why the islands matter",
        "<p>Island wards have voted as a block at every "
        "election since 2010. Tonight's high postal vote means their result may arrive first.</p>"
        '<p>Read our <a href="https://example.org/harbourside-guide">guide to the seat</a>.</p>',
    ),
    (
        "Candidates gather on the stage",
        "<p>All six candidates are now on the stage. The "
        "declaration is expected within minutes.</p>",
    ),
    (
        "Result: Greens gain Harbourside",
        "<p><strong>Ana Lindqvist (Green) is elected</strong> "
        "with 11,208 votes, a majority of 1,047 over the Harbour Alliance.</p><p>It is the first "
        "time the seat has changed hands since 2007.</p>",
    ),
]


KEY_POINTS = (
    "<ul><li>Ana Lindqvist (Green) wins Harbourside with a majority of 1,047</li>"
    "<li>Turnout 46.2%, up five points</li>"
    "<li>First change of hands since 2007</li></ul>"
)

# (username, group, display name, role): the journalist first, as the README promises.
ACCOUNTS = [
    ("journalist", "Journalist", "Sam Okafor", "Political Correspondent"),
    ("editor", "Editor", "Ines Duarte", "Live Editor"),
    ("contributor", "Contributor", "Cal Moreno", "Community Reporter"),
]


class Command(BaseCommand):
    help = "Load a demo event with a dozen entries and print the newsroom's logins."

    def handle(self, *args, **options) -> None:
        logins = {
            role: newsroom_account(username, role, display_name, job)
            for username, role, display_name, job in ACCOUNTS
        }
        journalist = logins["Journalist"][0]
        event = Event.objects.filter(slug=SLUG).first()
        if event is None:
            event = event_create(
                title="Harbourside by-election: results night",
                slug=SLUG,
                summary="Live coverage of the count and declaration in the Harbourside "
                "by-election.",
                key_points=KEY_POINTS,
            )
            start = timezone.now() - timedelta(hours=len(ENTRIES))
            for number, (headline, body) in enumerate(ENTRIES):
                entry_publish(
                    event=event,
                    author=journalist,
                    headline=headline,
                    body=body,
                    published_at=start + timedelta(hours=number, minutes=7 * number % 60),
                    key_event=number in (5, 7, 11),
                    pinned=number == 11,
                )
        self.stdout.write(f"\nDemo event: /live/{SLUG}/\n")
        for role, (user, password) in logins.items():
            self.stdout.write(
                f"{role} login at /admin/: username {user.username}, password {password}\n"
            )


def newsroom_account(username: str, role: str, display_name: str, job: str):
    """The account in its group (updates/roles.py), with a new password: (user, password)."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    JournalistProfile.objects.get_or_create(
        user=user, defaults={"display_name": display_name, "role": job}
    )
    return user, password
