// The one-line snippet's script, on another site's page (the desk shows the snippet):
//   <script async src="https://live.example/static/embed.js"
//           data-liveblog="https://live.example/live/<slug>/embed/"></script>
// It puts the event's live embed in an iframe where the script stands, and sizes the
// frame to its content as the embed reports it (static/embed-frame.js), from the
// embed's own origin and window only. Served under its plain name, unhashed and
// briefly cached, so that a snippet pasted once keeps working across releases.
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.liveblog) return;
  var address = new URL(script.dataset.liveblog, script.src);
  var frame = document.createElement("iframe");
  frame.src = address.href;
  frame.title = script.dataset.title || "Live updates";
  frame.className = "liveblog-embed";
  // Until the embed reports its height: about a screen of updates.
  frame.style.cssText = "display:block;width:100%;height:600px;border:0;overflow:hidden";
  script.parentNode.insertBefore(frame, script.nextSibling);

  window.addEventListener("message", function (event) {
    if (event.origin !== address.origin || event.source !== frame.contentWindow) return;
    var message = event.data;
    if (!message || message.type !== "liveblog:height") return;
    var height = Number(message.height);
    if (!isFinite(height) || height <= 0) return;
    frame.style.height = Math.min(Math.ceil(height), 100000) + "px";
  });
})();
