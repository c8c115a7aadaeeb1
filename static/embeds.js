// Video and social posts in cards (updates/embeds.py): nothing is asked of the provider
// until the reader clicks "Show content from ...", and then only its player, framed in
// place of the button (the Content-Security-Policy frames no other). Cards that arrive
// live are covered too: the click is heard on the document.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".entry__embed-show");
    if (!button) return;
    var figure = button.closest(".entry__embed");
    var frame = document.createElement("iframe");
    frame.src = figure.dataset.player;
    frame.title = figure.dataset.frameTitle; // "Content from YouTube", in the page's language
    frame.className = "entry__embed-frame";
    frame.allow = "autoplay; encrypted-media; fullscreen; picture-in-picture";
    frame.allowFullscreen = true;
    frame.referrerPolicy = "strict-origin-when-cross-origin";
    button.replaceWith(frame);
    frame.focus();
  });
})();
