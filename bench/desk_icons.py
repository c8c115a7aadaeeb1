"""Makes static/desk-icons.woff2: the rich-text editor's icon font (django-prose-editor's
Material Icons, 128 KB: a third of the desk's first view, 360 KB, before it was cut) cut
to the icons its menu bar can show, about 2 KB. static/desk.css draws the menu bar's
icons with it, so that the desk never fetches the whole font.

    .venv/bin/pip install fonttools brotli   # fonttools for this script only
    .venv/bin/python bench/desk_icons.py     # again after each upgrade of django-prose-editor

The icons are the names editor.js passes to its button maker (material("format_bold", ...)),
each drawn from its letters by one ligature; every other ligature of the font is dropped,
and the glyphs with them. Material Icons is Apache-2.0 licensed, as is this cut of it.
tests/browser/test_desk_phone.py checks that every icon on the desk is drawn as one glyph
and that the whole font is never fetched.
"""

import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "static" / "desk-icons.woff2"
# Built from a template in editor.js (`format_align_${r}`), so not found by the pattern.
TEMPLATED = {f"format_align_{side}" for side in ("left", "center", "right", "justify")}
# Set as a button's text elsewhere in editor.js: headings, and fullscreen's two states.
ELSEWHERE = {"title", "fullscreen", "fullscreen_exit"}


def prose_editor_static() -> Path:
    import django_prose_editor

    return Path(django_prose_editor.__file__).parent / "static" / "django_prose_editor"


def icon_names(editor_js: str) -> set[str]:
    return set(re.findall(r'material\("([a-z0-9_]+)"', editor_js)) | TEMPLATED | ELSEWHERE


def keep_only(font: TTFont, names: set[str]) -> int:
    """Drops every ligature that does not spell one of names; returns how many are left."""
    letter = {glyph: chr(code) for code, glyph in font.getBestCmap().items()}
    kept = 0
    for lookup in font["GSUB"].table.LookupList.Lookup:
        for table in lookup.SubTable:
            if table.LookupType == 7:  # an extension: the real table is inside
                table = table.ExtSubTable
            if table.LookupType != 4:  # ligatures
                continue
            for first, ligatures in list(table.ligatures.items()):
                spelled = [
                    ligature
                    for ligature in ligatures
                    if letter.get(first, "")
                    + "".join(letter.get(c, "") for c in ligature.Component)
                    in names
                ]
                kept += len(spelled)
                if spelled:
                    table.ligatures[first] = spelled
                else:
                    del table.ligatures[first]
    return kept


def main() -> int:
    static = prose_editor_static()
    names = icon_names((static / "editor.js").read_text())
    font = TTFont(static / "material-icons.woff2")
    kept = keep_only(font, names)
    if kept != len(names):
        print(f"{len(names) - kept} of the editor's icons are not in its font", file=sys.stderr)
        return 1
    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False
    options.flavor = "woff2"
    subsetter = subset.Subsetter(options)
    # The letters, and (GSUB's closure) the ligatures left, which are only the icons.
    subsetter.populate(text="".join(sorted(set("".join(names)))))
    subsetter.subset(font)
    font.flavor = "woff2"
    font.save(OUTPUT)
    print(f"{OUTPUT.relative_to(ROOT)}: {len(names)} icons, {OUTPUT.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
