from updates.held_pages import HeldPages


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_page_answers_readers_up_to_the_revision_it_was_built_at():
    pages = HeldPages()
    pages.hold("page 2", revision=7, body=b"as of 7")
    assert pages.get("page 2", min_revision=0) == b"as of 7"
    assert pages.get("page 2", min_revision=7) == b"as of 7"
    assert pages.get("page 2", min_revision=8) is None
    assert pages.get("page 3", min_revision=0) is None


def test_a_newer_build_replaces_the_page_and_an_older_one_arriving_late_does_not():
    pages = HeldPages()
    pages.hold("page 2", revision=7, body=b"as of 7")
    pages.hold("page 2", revision=9, body=b"as of 9")
    pages.hold("page 2", revision=8, body=b"as of 8")
    assert pages.get("page 2", min_revision=8) == b"as of 9"


def test_a_page_is_held_for_a_while_only():
    clock = Clock()
    pages = HeldPages(seconds=30, clock=clock)
    pages.hold("page 2", revision=9, body=b"as of 9")
    clock.now += 29.9
    assert pages.get("page 2", min_revision=0) == b"as of 9"
    clock.now += 0.1
    assert pages.get("page 2", min_revision=0) is None
    # Once expired, an older build may take its place.
    pages.hold("page 2", revision=8, body=b"as of 8")
    assert pages.get("page 2", min_revision=0) == b"as of 8"


def test_the_least_recently_used_page_goes_first():
    pages = HeldPages(size=2)
    pages.hold("page 2", revision=1, body=b"2")
    pages.hold("page 3", revision=1, body=b"3")
    pages.get("page 2", min_revision=0)
    pages.hold("page 4", revision=1, body=b"4")
    assert pages.get("page 3", min_revision=0) is None
    assert pages.get("page 2", min_revision=0) == b"2"
    assert pages.get("page 4", min_revision=0) == b"4"
