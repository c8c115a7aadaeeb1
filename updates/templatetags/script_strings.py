"""The address of the pages' scripts' words in the page's language (views.script_strings),
for the <script> that loads them before the scripts that use them."""

from django import template
from django.urls import reverse
from django.utils.translation import get_language

from updates import cache_keys

register = template.Library()


@register.simple_tag
def script_strings_url() -> str:
    # The release in the address, so that a deploy's new words are never read from a
    # cache's old ones (the answer itself is kept a year).
    return f"{reverse('script-strings', args=[get_language()])}?v={cache_keys.release()}"
