// Inside the live embed (templates/updates/embed.html), framed by another site through
// static/embed.js: tells the page around it how tall the embed is whenever that changes
// (an update arrives, "Load more" adds a page, a picture loads), and opens every link
// that leads out of the embed (the full page, a permalink, a link in an update) in a new
// tab, never inside the frame.
(function () {
  "use strict";

  var embed = document.getElementById("embed");

  if (window.parent !== window) {
    var told = 0;
    var tell = function () {
      var height = Math.ceil(embed.getBoundingClientRect().height);
      if (height === told) return;
      told = height;
      // Only a height, which any page may know: to whichever site frames us.
      window.parent.postMessage({ type: "liveblog:height", height: height }, "*");
    };
    new ResizeObserver(tell).observe(embed);
    tell();
  }

  // Bubbling, after the page's own script: its buttons ("Load more") prevent the default.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (new URL(link.href).pathname === location.pathname) return; // the embed itself
    event.preventDefault();
    window.open(link.href, "_blank", "noopener");
  });
})();
