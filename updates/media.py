"""An entry's media as stored (Entry.media): a list in the order readers see it of
pictures, each with the words readers read (alt text, caption, credit) and its stored
renditions (updates/pictures.py), and embeds of video and social posts
(updates/embeds.py). Changing the list is an edit of the entry like any
other (services.entry_update): numbered, told to readers, kept in the history; so the
files of a picture taken off an entry stay, for the history that shows it.

A picture is stored either with the post that carries it, or as soon as the journalist
chooses it (desk.upload_picture, static/pictures.js): then the post carries a signed
token naming the stored picture (upload_token), not the file."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from updates.models import Entry, EntryChange
from updates.pictures import (
    WEBP,
    PictureRefused,
    StoredPicture,
    delete_picture,
    store_picture,
    stored_names,
)

# More than a live update carries; enough for a gallery of the count.
MAX_PICTURES = 10

# A post form left open over a long night still posts the pictures chosen at its start;
# files uploaded and never posted are deleted after this (prune_pictures).
UPLOAD_KEPT_FOR = timedelta(days=2)
UPLOAD_SALT = "updates.media.upload"


class UploadRefused(Exception):
    """The upload at `position` in the order asked is refused, for `reason`."""

    def __init__(self, position: int, reason: PictureRefused) -> None:
        super().__init__(str(reason))
        self.position = position


@dataclass(frozen=True)
class PictureAsked:
    """One picture as the journalist's form leaves it: a new upload, or one the entry
    has (`kept`, its id), with its words."""

    alt: str
    caption: str = ""
    credit: str = ""
    upload: UploadedFile | None = None
    uploaded: StoredPicture | None = None  # stored ahead of the post (upload_token)
    kept: str = ""


class UploadLost(Exception):
    """A token that names no picture this site still keeps for a post."""


def upload_token(picture: StoredPicture) -> str:
    """What a post form carries for a picture stored as soon as it was chosen: signed, so
    that a post can name only pictures this site stored."""
    return signing.dumps(picture.to_json(), salt=UPLOAD_SALT, compress=True)


def uploaded_picture(token: str) -> StoredPicture:
    """The picture upload_token() named. Raises UploadLost for a token this site did not
    sign, one older than UPLOAD_KEPT_FOR, or one whose files are gone."""
    try:
        renditions = signing.loads(token, salt=UPLOAD_SALT, max_age=UPLOAD_KEPT_FOR)
        picture = StoredPicture.from_json(renditions)
    except (signing.BadSignature, TypeError, ValueError, KeyError) as error:
        raise UploadLost from error
    # One look, not one per rendition: they are stored and deleted together.
    if not default_storage.exists(picture.renditions[0].name):
        raise UploadLost
    return picture


def picture_item(picture: StoredPicture, *, alt: str, caption: str, credit: str) -> dict[str, Any]:
    return {
        "kind": "image",
        # Tells the forms which picture a row keeps, whatever the order.
        "id": secrets.token_hex(8),
        "alt": alt,
        "caption": caption,
        "credit": credit,
        "picture": picture.to_json(),
    }


def thumbnail_url(item: dict[str, Any]) -> str:
    return smallest_url(StoredPicture.from_json(item["picture"]))


def smallest_url(picture: StoredPicture) -> str:
    return default_storage.url(picture.of_type(WEBP)[0].name)


def pictures_of(media: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in media if item["kind"] == "image"]


def embeds_of(media: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entry's video and social posts (updates/embeds.py)."""
    return [item for item in media if item["kind"] == "embed"]


def media_made(
    asked: Iterable[PictureAsked | None], *, had: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The entry's new media: each upload stored, or taken as stored ahead (a replacement
    is an upload in the row of the picture it replaces), each kept picture with its words
    as now written, in the order asked; None asks for nothing (an empty row). Raises
    UploadRefused, with nothing of this call left stored."""
    had_by_id = {item["id"]: item for item in had if "id" in item}
    made: list[dict[str, Any]] = []
    stored: list[StoredPicture] = []
    try:
        for position, picture in enumerate(asked):
            if picture is None:
                continue
            words = {"alt": picture.alt, "caption": picture.caption, "credit": picture.credit}
            if picture.upload is not None:
                try:
                    new = store_picture(picture.upload)
                except PictureRefused as reason:
                    raise UploadRefused(position, reason) from reason
                stored.append(new)
                made.append(picture_item(new, **words))
            elif picture.uploaded is not None:
                made.append(picture_item(picture.uploaded, **words))
            elif picture.kept in had_by_id:
                made.append(had_by_id[picture.kept] | words)
    except Exception:
        for new in stored:
            delete_picture(new)
        raise
    return made


def forget_stored(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Delete the files of pictures `new` stored that `old` did not have: for an entry
    whose save failed after its pictures were stored."""
    had = {item["id"] for item in old if "id" in item}
    for item in pictures_of(new):
        if item["id"] not in had:
            delete_picture(StoredPicture.from_json(item["picture"]))


def unposted_files(*, now: datetime | None = None) -> list[str]:
    """The stored files of pictures that no entry has or had (its history included) and
    that no post can name any more: uploaded as they were chosen and never posted, or left
    by a save that failed. Older than a token lasts, with an hour for a post that was
    being saved as it ran out."""
    cutoff = (now or timezone.now()) - UPLOAD_KEPT_FOR - timedelta(hours=1)
    named: set[str] = set()
    for model in (Entry, EntryChange):
        for entry_media in model.objects.exclude(media=[]).values_list("media", flat=True):
            for item in pictures_of(entry_media):
                named.update(rendition["name"] for rendition in item["picture"])
    return [
        name
        for name in stored_names()
        if name not in named and default_storage.get_modified_time(name) < cutoff
    ]
