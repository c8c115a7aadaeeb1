// The live page: keeps the server-rendered page in step with the event, and out of
// the reader's way. The rules of staying exact live in live-feed.js; this file is the
// page: cards, the socket and its fallback, the "new updates" button, times.
// Every entry arrives with its card ("html") rendered and sanitised on the server.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("live-config").textContent);
  var live = document.getElementById("live");
  var stream = document.getElementById("stream");
  var pinned = document.getElementById("pinned");
  var loadMore = document.getElementById("load-more");
  var newUpdates = document.getElementById("new-updates");
  var connection = document.getElementById("connection");
  var keyEvents = document.getElementById("key-events");
  var keyEventsList = document.getElementById("key-events-list");
  var oldestFirst = config.order === "oldest";
  var baseTitle = document.title;

  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_CAP_MS = 30000;
  var POLL_MS = config.pollSeconds * 1000;
  // The server sends a heartbeat every 20 to 30 s (DESIGN.md); the page learns the
  // actual interval from the gap between two heartbeats on one socket.
  var HEARTBEAT_MAX_MS = 30000;
  // A socket with no frame for this many heartbeats is dead, even if the browser
  // still calls it open: a half-open connection (a server frozen, a network path
  // gone without a reset) never tells the browser, nor does a handshake left hanging.
  var SILENT_HEARTBEATS = 2.5;

  // ---- Times -------------------------------------------------------------------------

  var clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  var full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  function clockText(when, withDate) {
    var sameDay = when.toDateString() === new Date().toDateString();
    return withDate || !sameDay ? day.format(when) + ", " + clock.format(when) : clock.format(when);
  }

  function relativeText(when) {
    var minutes = Math.floor((Date.now() - when.getTime()) / 60000);
    if (minutes < 1) return "Just now";
    if (minutes < 60) return minutes + " min ago";
    if (minutes < 12 * 60) return Math.floor(minutes / 60) + " h ago";
    return clockText(when);
  }

  // <time data-relative> reads "5 min ago", <time data-clock> "14:05", both in the
  // reader's own time zone, with the exact time on hover.
  function renderTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var when = new Date(element.getAttribute("datetime"));
      if (isNaN(when)) return;
      element.title = full.format(when);
      element.textContent = element.hasAttribute("data-relative")
        ? relativeText(when)
        : clockText(when, element.hasAttribute("data-with-date"));
    });
  }

  // ---- Cards -------------------------------------------------------------------------

  function cardFrom(entry) {
    var template = document.createElement("template");
    template.innerHTML = entry.html.trim();
    var card = template.content.firstElementChild;
    renderTimes(card);
    return card;
  }

  function cards(container) {
    return container.querySelectorAll("article.entry");
  }

  // Whether card a comes before card b in the page's order.
  function comesBefore(a, b) {
    var pa = Date.parse(a.dataset.published), pb = Date.parse(b.dataset.published);
    var newer = pa !== pb ? pa > pb : Number(a.dataset.id) > Number(b.dataset.id);
    return oldestFirst ? !newer : newer;
  }

  function moreToLoad() {
    return !loadMore.hidden;
  }

  // Puts the card in its place; false if it has none yet. A card that would go after the
  // last one shown while there is more to load is left out: "Load more" brings it in order.
  function place(card, container) {
    var others = cards(container);
    for (var i = 0; i < others.length; i++) {
      if (comesBefore(card, others[i])) {
        container.insertBefore(card, others[i]);
        return true;
      }
    }
    if (container === pinned || !moreToLoad()) {
      container.appendChild(card);
      return true;
    }
    return false;
  }

  // Whether the card would be the first of the stream: a new update, not an older
  // entry edited or restored somewhere down the page (or not loaded yet).
  function goesOnTop(card) {
    var first = cards(stream)[0];
    return !first || comesBefore(card, first);
  }

  function tidy() {
    pinned.hidden = !cards(pinned).length;
    var empty = document.getElementById("empty");
    if (empty && (cards(stream).length || cards(pinned).length)) empty.remove();
  }

  function removeCard(id) {
    var card = document.getElementById("entry-" + id);
    if (card) card.remove();
    waiting.delete(id);
    leftOut.delete(id);
    updateKeyEvent({ id: id, key_event: false });
    tidy();
    showUnseen();
  }

  function showEntry(entry) {
    var existing = document.getElementById("entry-" + entry.id);
    var container = entry.pinned ? pinned : stream;
    var card = cardFrom(entry);
    waiting.delete(entry.id);
    leftOut.delete(entry.id);
    updateKeyEvent(entry);
    if (existing && existing.parentNode === container) {
      existing.replaceWith(card);
    } else if (!existing && !entry.pinned && readerIsAway() && goesOnTop(card)) {
      // Only new updates wait for the reader; an older entry goes in its place.
      waiting.set(entry.id, entry);
    } else {
      if (existing) existing.remove();
      if (!place(card, container)) leftOut.set(entry.id, entry);
      else if (!existing && document.hidden) unseen += 1;
    }
    tidy();
    showUnseen();
  }

  // ---- Key events --------------------------------------------------------------------

  function updateKeyEvent(entry) {
    var item = keyEventsList.querySelector('li[data-id="' + entry.id + '"]');
    if (item) item.remove();
    if (entry.key_event) {
      item = document.createElement("li");
      item.dataset.id = entry.id;
      item.dataset.published = entry.published_at;
      var link = document.createElement("a");
      link.href = "#entry-" + entry.id;
      link.dataset.permalink = entry.url;
      var time = document.createElement("time");
      time.setAttribute("datetime", entry.published_at);
      time.setAttribute("data-clock", "");
      var headline = document.createElement("span");
      headline.textContent = entry.headline;
      link.append(time, " ", headline);
      item.appendChild(link);
      renderTimes(item);
      var later = Array.prototype.find.call(keyEventsList.children, function (other) {
        return Date.parse(other.dataset.published) < Date.parse(entry.published_at);
      });
      keyEventsList.insertBefore(item, later || null);
    }
    keyEvents.hidden = !keyEventsList.children.length;
  }

  // ---- Not pushing the reader around -------------------------------------------------

  // New entries wait while the top of the stream is above the window: inserting
  // there would move the text the reader is reading.
  var waiting = new Map();
  var unseen = 0;
  // Entries changed while beyond the last page loaded: "Load more" shows these states.
  var leftOut = new Map();

  function readerIsAway() {
    return !oldestFirst && stream.getBoundingClientRect().top < 0;
  }

  function showWaiting() {
    var entries = Array.from(waiting.values());
    waiting.clear();
    entries.forEach(function (entry) {
      place(cardFrom(entry), stream);
    });
    tidy();
    showUnseen();
  }

  function showUnseen() {
    var count = waiting.size + unseen;
    newUpdates.hidden = waiting.size === 0;
    newUpdates.textContent = waiting.size === 1 ? "1 new update" : waiting.size + " new updates";
    document.title = count ? "(" + count + ") " + baseTitle : baseTitle;
  }

  newUpdates.addEventListener("click", function () {
    showWaiting();
    window.scrollTo({ top: 0, behavior: "smooth" });
  });

  window.addEventListener(
    "scroll",
    function () {
      if (waiting.size && !readerIsAway()) showWaiting();
    },
    { passive: true }
  );

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    unseen = 0;
    showUnseen();
    // A tab that slept may have missed anything; ask, whatever the socket says.
    feed.catchUp().catch(noteFailure);
  });

  // ---- The event ---------------------------------------------------------------------

  function applyEvent(event) {
    document.getElementById("event-title").textContent = event.title;
    var summary = document.getElementById("event-summary");
    summary.textContent = event.summary;
    summary.hidden = !event.summary;
    var badge = document.getElementById("event-badge");
    badge.className = "badge badge--" + event.status;
    badge.textContent = event.status.charAt(0).toUpperCase() + event.status.slice(1);
    document.getElementById("notice-scheduled").hidden = event.status !== "scheduled";
    document.getElementById("notice-ended").hidden = event.status !== "ended";
    live.dataset.status = event.status;
    if (event.status === "ended") stop();
  }

  // ---- Staying up to date ------------------------------------------------------------

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error(url + " answered " + response.status);
      return response.json();
    });
  }

  var feed = new window.LiveFeed({
    revision: config.revision,
    show: showEntry,
    remove: removeCard,
    onEvent: applyEvent,
    fetchChanges: function (since) {
      return getJSON(config.changesUrl + "?since=" + since);
    },
    // Too far behind, or the server forgot: start again from the server's page.
    restart: function () {
      location.reload();
    },
  });
  document.querySelectorAll("article.entry").forEach(function (card) {
    feed.know(card.dataset.id, card.dataset.revision);
  });

  var socket = null;
  var heartbeatMs = (config.heartbeatSeconds || HEARTBEAT_MAX_MS / 1000) * 1000;
  var lastHeartbeatAt = 0; // on this socket
  var lastFrameAt = 0;
  var silenceTimer = null;
  var attempts = 0;
  var reconnectTimer = null;
  var retries = 0; // catch-ups failed in a row while connected
  var retryTimer = null;
  var pollTimer = null;
  var stopped = false;

  function setConnection(state, text) {
    connection.hidden = false;
    connection.dataset.state = state;
    connection.querySelector(".connection__text").textContent = text;
  }

  function noteFailure(error) {
    console.warn("Could not fetch updates:", error);
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      setConnection("paused", "Updates paused"); // the polling asks again
      return;
    }
    // Connected, so nothing else would ask before the next heartbeat: ask again soon,
    // and less often while it keeps failing.
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      feed.catchUp().then(function () { retries = 0; }, noteFailure);
    }, backoff(retries++));
  }

  // Exponential backoff with "equal jitter" (half the delay fixed, half random), so
  // that readers who failed together (a restart of the servers) do not all come back
  // in the same second. At most 30 s.
  function backoff(failures) {
    var ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * Math.pow(2, failures));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  function noteHeartbeat(now) {
    // Heartbeats come at most once a second (the setting is in whole seconds): a
    // shorter gap is two of them bunched up behind a stall, not the interval.
    if (lastHeartbeatAt) {
      heartbeatMs = Math.min(Math.max(now - lastHeartbeatAt, 1000), HEARTBEAT_MAX_MS);
    }
    lastHeartbeatAt = now;
    watchSilence(); // against the limit the interval just learnt sets
  }

  // Checks that the socket is still heard from; started with each socket.
  function watchSilence() {
    clearTimeout(silenceTimer);
    var limit = SILENT_HEARTBEATS * heartbeatMs;
    var silent = Date.now() - lastFrameAt;
    if (silent < limit) {
      silenceTimer = setTimeout(watchSilence, limit - silent);
      return;
    }
    silenceTimer = null;
    console.warn("No word from the server for " + silent + " ms; reconnecting");
    var dead = socket;
    dropped({ code: 1006 });
    // Its close may never complete; nothing it does from now on concerns the page.
    dead.onmessage = dead.onclose = null;
    dead.close();
  }

  function connect() {
    reconnectTimer = null;
    if (stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // With the revision shown, the server's hello brings what the page missed meanwhile:
    // after a restart, thousands of readers come back without a request each.
    socket = new WebSocket(scheme + location.host + config.socketPath + "?since=" + feed.revision);
    lastFrameAt = Date.now();
    lastHeartbeatAt = 0;
    watchSilence();
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      lastFrameAt = Date.now();
      if (data.type === "heartbeat") noteHeartbeat(lastFrameAt);
      // Live once the server has said hello, not when the socket opens: a server that
      // accepts and then fails (its database down) must not reset the backoff, stop
      // the polling or show "Live" on every try.
      if (data.type === "hello") {
        attempts = 0;
        stopPolling();
        setConnection("live", "Live");
      }
      feed.receive(data).catch(noteFailure);
    };
    socket.onclose = dropped;
  }

  function dropped(event) {
    socket = null;
    clearTimeout(silenceTimer);
    silenceTimer = null;
    if (event.code === 4410) {
      feed.catchUp().catch(noteFailure); // brings the "ended" state
      return stop();
    }
    if (event.code === 4004 || stopped) return stop();
    // Too many connects from this address (a newsroom's or a carrier's shared one): the
    // first quick retries would fall in the same one-minute window, so skip them.
    if (event.code === 4029) attempts = Math.max(attempts, 3);
    setConnection("reconnecting", navigator.onLine === false ? "Updates paused" : "Reconnecting…");
    startPolling();
    // Forever, at most every 30 s.
    reconnectTimer = setTimeout(connect, backoff(attempts++));
  }

  // While the socket is down (blocked by a proxy, or the server is away), ask for
  // changes now and then; the socket is still tried in the background.
  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () {
      feed.catchUp().then(function () {
        if (!socket) setConnection("reconnecting", "Reconnecting…");
      }, noteFailure);
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function stop() {
    stopped = true;
    stopPolling();
    clearTimeout(reconnectTimer);
    clearTimeout(retryTimer);
    clearTimeout(silenceTimer);
    if (socket) socket.close();
    connection.hidden = true;
  }

  window.addEventListener("online", function () {
    if (!socket && !stopped) {
      clearTimeout(reconnectTimer);
      connect();
    }
  });

  // ---- Load more, order, permalinks --------------------------------------------------

  function setCursor(cursor) {
    loadMore.dataset.cursor = cursor || "";
    loadMore.hidden = !cursor;
  }

  function loadNextPage() {
    var param = oldestFirst ? "after" : "before";
    // The revision shown: any page at least that new will do, and the server may have
    // one at hand (updates/held_pages.py); what changed since reaches the feed anyway.
    var url =
      config.entriesUrl + "?" + param + "=" + encodeURIComponent(loadMore.dataset.cursor) +
      "&min_revision=" + feed.revision;
    return getJSON(url).then(function (page) {
      page.entries.forEach(function (entry) {
        // Pinned entries are already shown above the stream.
        if (document.getElementById("entry-" + entry.id)) return;
        // Changed while this page was on its way: deleted (leave it out), or a newer
        // state the feed kept aside because the entry was not on the page yet.
        if (feed.knowsNewer(entry.id, entry.revision)) entry = leftOut.get(entry.id);
        if (!entry) return;
        leftOut.delete(entry.id);
        feed.know(entry.id, entry.revision);
        stream.appendChild(cardFrom(entry));
      });
      setCursor(page.next);
    });
  }

  loadMore.addEventListener("click", function (event) {
    event.preventDefault();
    if (loadMore.getAttribute("aria-busy")) return;
    loadMore.setAttribute("aria-busy", "true");
    loadNextPage()
      .catch(function (error) { console.warn("Load more failed:", error); })
      .then(function () { loadMore.removeAttribute("aria-busy"); });
  });

  var orderSwitch = document.getElementById("order-switch");
  if (orderSwitch) {
    orderSwitch.addEventListener("click", function (event) {
      event.preventDefault();
      var order = oldestFirst ? "newest" : "oldest";
      document.cookie =
        config.orderCookie + "=" + order + "; path=/; max-age=31536000; SameSite=Lax";
      location.assign(location.pathname);
    });
  }

  // #entry-<id>: scroll to the entry and mark it, loading older pages to find it if
  // need be, or going to its own page.
  function revealTarget() {
    var match = /^#entry-(\d+)$/.exec(location.hash);
    if (!match) return;
    var id = match[1];
    var tries = 0;
    (function look() {
      var card = document.getElementById("entry-" + id);
      if (card) {
        card.classList.add("entry--highlight");
        card.scrollIntoView({ block: "start" });
        return;
      }
      if (moreToLoad() && tries++ < 10) return loadNextPage().then(look);
      location.assign(location.pathname + "entries/" + id + "/");
    })();
  }

  window.addEventListener("hashchange", revealTarget);

  renderTimes(document);
  setInterval(function () {
    renderTimes(document);
  }, 30000);
  revealTarget();
  if (live.dataset.status !== "ended") connect();
})();
