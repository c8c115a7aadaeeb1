// The live page: keeps the server-rendered page in step with the event.
// Messages and API answers are described in DESIGN.md; every entry arrives with its
// card ("html") rendered and sanitised once on the server.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("live-config").textContent);
  var stream = document.getElementById("stream");
  var pinned = document.getElementById("pinned");
  var statusText = document.getElementById("live-status");
  var loadMore = document.getElementById("load-more");
  var revision = config.revision;
  var socket = null;
  var retries = 0;
  var catchingUp = false;
  var wanted = revision; // the newest revision a message has told us of

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var sameDay = when.toDateString() === new Date().toDateString();
      el.textContent = sameDay ? timeFormat.format(when) : dateFormat.format(when) + ", " + timeFormat.format(when);
      el.title = fullFormat.format(when);
    });
  }

  function cardFrom(entry) {
    var template = document.createElement("template");
    template.innerHTML = entry.html.trim();
    var card = template.content.firstElementChild;
    localiseTimes(card);
    return card;
  }

  function isNewer(a, b) {
    var pa = a.dataset.published, pb = b.dataset.published;
    if (pa !== pb) return new Date(pa) > new Date(pb);
    return Number(a.dataset.id) > Number(b.dataset.id);
  }

  // Puts the card in its place in time; cards older than the last one shown are left
  // for "Load more", which fetches them in order.
  function place(card, container, keepOlder) {
    var children = container.querySelectorAll("article.entry");
    for (var i = 0; i < children.length; i++) {
      if (isNewer(card, children[i])) {
        container.insertBefore(card, children[i]);
        return;
      }
    }
    if (keepOlder || loadMore.hidden) container.appendChild(card);
  }

  function remove(id) {
    var existing = document.getElementById("entry-" + id);
    if (existing) existing.remove();
    pinned.hidden = !pinned.querySelector("article.entry");
  }

  function upsert(entry) {
    remove(entry.id);
    var card = cardFrom(entry);
    place(card, entry.pinned ? pinned : stream, entry.pinned);
    pinned.hidden = !pinned.querySelector("article.entry");
    var empty = document.getElementById("empty");
    if (empty) empty.remove();
  }

  function applyChange(change) {
    if (change.deleted) remove(change.id);
    else upsert(change);
  }

  function applyEvent(event) {
    document.querySelector(".live__title").textContent = event.title;
    document.getElementById("live").dataset.status = event.status;
    if (event.status === "ended") {
      setStatus("This event has ended.");
      if (socket) socket.close();
    }
  }

  function setStatus(text) {
    statusText.textContent = text;
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error(url + " answered " + response.status);
      return response.json();
    });
  }

  function reloadEntries() {
    return getJSON(config.entriesUrl).then(function (page) {
      stream.querySelectorAll("article.entry").forEach(function (card) { card.remove(); });
      pinned.querySelectorAll("article.entry").forEach(function (card) { card.remove(); });
      page.entries.forEach(function (entry) { upsert(entry); });
      setCursor(page.next);
      revision = page.revision;
    });
  }

  // Brings the page to the server's state after `revision`, in one answer.
  function catchUp(upTo) {
    wanted = Math.max(wanted, upTo);
    if (catchingUp) return;
    catchingUp = true;
    getJSON(config.changesUrl + "?since=" + revision)
      .then(function (answer) {
        if (answer.reset) return reloadEntries();
        answer.changes.forEach(applyChange);
        revision = Math.max(revision, answer.revision);
      })
      .then(
        function () {
          catchingUp = false;
          if (wanted > revision) catchUp(wanted);
        },
        function (error) {
          catchingUp = false;
          console.warn("Catch-up failed:", error);
        }
      );
  }

  function onMessage(message) {
    if (message.type === "hello" || message.type === "heartbeat") {
      if (message.revision > revision) catchUp(message.revision);
      return;
    }
    if (message.revision <= revision) return;
    if (message.revision > revision + 1 || catchingUp) {
      catchUp(message.revision);
      return;
    }
    revision = message.revision;
    if (message.type === "entry.deleted") remove(message.entry.id);
    else if (message.type === "event.updated") applyEvent(message.event);
    else upsert(message.entry);
  }

  function connect() {
    if (document.getElementById("live").dataset.status === "ended") return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.socketPath);
    socket.onopen = function () {
      retries = 0;
      setStatus("");
    };
    socket.onmessage = function (event) {
      onMessage(JSON.parse(event.data));
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4410 || event.code === 4004) return;
      setStatus("Reconnecting…");
      // Exponential backoff with jitter, so a server restart is not met by every reader at once.
      var delay = Math.min(30000, 1000 * Math.pow(2, retries)) * (0.5 + Math.random() / 2);
      retries += 1;
      setTimeout(connect, delay);
    };
  }

  function setCursor(cursor) {
    loadMore.dataset.cursor = cursor || "";
    loadMore.hidden = !cursor;
  }

  loadMore.addEventListener("click", function (event) {
    event.preventDefault();
    if (loadMore.getAttribute("aria-busy")) return;
    loadMore.setAttribute("aria-busy", "true");
    getJSON(config.entriesUrl + "?before=" + encodeURIComponent(loadMore.dataset.cursor))
      .then(function (page) {
        page.entries.forEach(function (entry) {
          // The pinned entries are already shown above the stream.
          if (!document.getElementById("entry-" + entry.id)) stream.appendChild(cardFrom(entry));
        });
        setCursor(page.next);
      })
      .catch(function (error) { console.warn("Load more failed:", error); })
      .then(function () { loadMore.removeAttribute("aria-busy"); });
  });

  localiseTimes(document);
  connect();
})();
