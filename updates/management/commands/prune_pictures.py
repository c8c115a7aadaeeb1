"""Delete the files of pictures uploaded and never posted (updates/media.py
unposted_files): run daily, as deploy/liveblog-prune-pictures.timer does. Files of
pictures an entry has, or had, are never touched."""

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand

from updates.media import unposted_files


class Command(BaseCommand):
    help = "Delete the files of pictures uploaded and never posted, once no post can name them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List them, delete nothing.")

    def handle(self, *args, dry_run: bool, verbosity: int, **options) -> None:
        names = unposted_files()
        for name in names:
            if verbosity > 1 or dry_run:
                self.stdout.write(name)
            if not dry_run:
                default_storage.delete(name)
        done = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{len(names)} files of pictures never posted {done}.")
