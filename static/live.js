// The live page: keeps the server-rendered page in step with the event, and out of
// the reader's way. The rules of staying exact live in live-feed.js; this file is the
// page: cards, the socket and its fallback, the "new updates" button, times.
// Every entry arrives with its card ("html") rendered and sanitised on the server. On the
// socket it comes with only what the page reads beside (CARD_ENTRY in docs/api.md): read
// no other field of an entry here, or add it to serialize.card_fields.
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
  var announcer = document.getElementById("announcer");
  var keyPoints = document.getElementById("key-points"); // on the first page only
  var keyPointsText = keyPoints && document.getElementById("key-points-text");
  var keyPointsShown = keyPointsText && keyPointsText.innerHTML;
  var oldestFirst = config.order === "oldest";
  var baseTitle = document.title;
  // The page's words in its language, from the catalog its template loads before this
  // script (views.script_strings); the English ones should it have failed to load.
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, other, count) { return count === 1 ? one : other; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  };
  var STATUS = { scheduled: gettext("Scheduled"), live: gettext("Live"), ended: gettext("Ended") };

  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_CAP_MS = 30000;
  var POLL_MS = config.pollSeconds * 1000;
  // The server sends a heartbeat every 20 to 30 s (docs/api.md); the page learns the
  // actual interval from the gap between two heartbeats on one socket.
  var HEARTBEAT_MAX_MS = 30000;
  // A socket with no frame for this many heartbeats is dead, even if the browser
  // still calls it open: a half-open connection (a server frozen, a network path
  // gone without a reset) never tells the browser, nor does a handshake left hanging.
  var SILENT_HEARTBEATS = 2.5;

  // ---- Times -------------------------------------------------------------------------

  // In the page's language (<html lang>), in the reader's own time zone.
  var locale = document.documentElement.lang || undefined;
  var clock = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  var zoned = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  var day = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short" });
  var full = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "long" });
  var relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });

  function clockText(when, withDate, withZone) {
    var sameDay = when.toDateString() === new Date().toDateString();
    var time = (withZone ? zoned : clock).format(when);
    return withDate || !sameDay ? day.format(when) + ", " + time : time;
  }

  function relativeText(when) {
    var minutes = Math.floor((Date.now() - when.getTime()) / 60000);
    if (minutes < 1) return relative.format(0, "second"); // "now"
    if (minutes < 60) return relative.format(-minutes, "minute");
    if (minutes < 12 * 60) return relative.format(-Math.floor(minutes / 60), "hour");
    return clockText(when);
  }

  // <time data-relative> reads "5 minutes ago", <time data-clock> "14:05" (with
  // data-zone "14:05 GMT+1"), in the reader's own time zone and the page's language,
  // with the exact time and its zone on hover.
  function renderTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var when = new Date(element.getAttribute("datetime"));
      if (isNaN(when)) return;
      element.title = full.format(when);
      element.textContent = element.hasAttribute("data-relative")
        ? relativeText(when)
        : clockText(when, element.hasAttribute("data-with-date"), element.hasAttribute("data-zone"));
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

  // ---- Order -------------------------------------------------------------------------
  // The server's order: published_at, then id; the stream in the reader's order, pinned
  // entries and key events newest first whatever it is. An entry moved in time, pinned
  // or unpinned goes where a reload would put it.

  // Microseconds since 1970: Date.parse keeps milliseconds, and the server also orders
  // entries posted within one millisecond by their time.
  function instant(iso) {
    var fraction = /\.(\d+)/.exec(iso);
    var whole = Date.parse(fraction ? iso.replace(fraction[0], "") : iso);
    return whole * 1000 + (fraction ? Number((fraction[1] + "00000").slice(0, 6)) : 0);
  }

  function position(card) {
    return { at: instant(card.dataset.published), id: Number(card.dataset.id) };
  }

  // Strictly: a position does not precede itself (the last entry loaded is not beyond).
  function precedes(a, b, newestFirst) {
    var later = a.at - b.at || a.id - b.id;
    return newestFirst ? later > 0 : later < 0;
  }

  function newestFirstIn(container) {
    return container === pinned || !oldestFirst;
  }

  function moreToLoad() {
    return !loadMore.hidden;
  }

  // Where the entries loaded end: the last entry of the last page (pinned or not),
  // kept on "Load more" (data-last-published, data-last-id). Beyond it, "Load more"
  // brings entries in order.
  function loadedUpTo() {
    var last = loadMore.dataset;
    return last.lastPublished ? { at: instant(last.lastPublished), id: Number(last.lastId) } : null;
  }

  // Puts the card in its place; false if that is beyond the entries loaded (it is left
  // out until "Load more" reaches it).
  function place(card, container) {
    var newestFirst = newestFirstIn(container);
    var here = position(card);
    var last = moreToLoad() && loadedUpTo();
    var beyond = last && precedes(last, here, newestFirst);
    if (container === stream && beyond) return false;
    // The cards are in order: the first one this card precedes, by halving.
    var others = cards(container);
    var low = 0;
    var high = others.length;
    while (low < high) {
      var middle = (low + high) >> 1;
      if (precedes(here, position(others[middle]), newestFirst)) high = middle;
      else low = middle + 1;
    }
    container.insertBefore(card, others[low] || null);
    return true;
  }

  // Whether the card would be the first of the stream: a new update, not an older
  // entry edited or restored somewhere down the page (or not loaded yet).
  function goesOnTop(card) {
    var first = cards(stream)[0];
    return !first || precedes(position(card), position(first), !oldestFirst);
  }

  function tidy() {
    pinned.hidden = !cards(pinned).length;
    var empty = document.getElementById("empty");
    if (empty && (cards(stream).length || cards(pinned).length)) empty.remove();
    numberCards();
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
    // Taken out and put back, not replaced: its change may move it (a new time, pinned).
    if (existing) existing.remove();
    var waits = !existing && !entry.pinned && readerIsAway() && goesOnTop(card);
    if (!existing && (waits || isNewest(card))) noteNewUpdate(entry.headline, waits);
    if (waits) {
      // Only new updates wait for the reader; an older entry goes in its place.
      waiting.set(entry.id, entry);
    } else if (!place(card, container)) {
      leftOut.set(entry.id, entry);
    } else if (!existing && document.hidden) {
      unseen += 1;
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
      time.setAttribute("data-zone", "");
      var headline = document.createElement("span");
      headline.textContent = entry.headline;
      link.append(time, " ", headline);
      item.appendChild(link);
      renderTimes(item);
      var here = position(item);
      var later = Array.prototype.find.call(keyEventsList.children, function (other) {
        return precedes(here, position(other), true);
      });
      keyEventsList.insertBefore(item, later || null);
    }
    keyEvents.hidden = !keyEventsList.children.length;
  }

  // ---- Told to assistive technology -------------------------------------------------
  // The stream is a feed (role="feed"): each card an article in it, numbered, focusable.
  // New updates are announced through a polite live region (#announcer), once per
  // batch ("3 new updates: <the newest headline>"), and not while the reader types or
  // reads a focused entry: then once they have left it. Edits, corrections and
  // deletions are not announced.

  var ANNOUNCE_AFTER_MS = 1000; // the rest of a batch arrives within this
  var announcing = []; // headlines of new updates not yet announced, newest last
  var waitingInButton = false; // some of them wait behind the new-updates button
  var announceTimer = null;

  function numberCards() {
    var all = cards(stream);
    Array.prototype.forEach.call(all, function (card, index) {
      card.tabIndex = 0;
      card.setAttribute("aria-posinset", String(index + 1));
      // Unknown: older updates are still to load.
      card.setAttribute("aria-setsize", moreToLoad() ? "-1" : String(all.length));
      var headline = card.querySelector(".entry__headline");
      if (headline) {
        headline.id = headline.id || "entry-" + card.dataset.id + "-headline";
        card.setAttribute("aria-labelledby", headline.id);
      }
    });
  }

  function readerIsBusy() {
    var focused = document.activeElement;
    if (!focused || focused === document.body) return false;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(focused.tagName) || focused.isContentEditable;
    return typing || Boolean(focused.closest("article.entry"));
  }

  function noteNewUpdate(headline, waits) {
    announcing.push(headline);
    waitingInButton = waitingInButton || waits;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(announce, ANNOUNCE_AFTER_MS);
  }

  function announce() {
    announceTimer = null;
    if (!announcing.length || readerIsBusy()) return; // focusout tries again
    var count = announcing.length;
    var text = interpolate(
      ngettext("%(count)s new update: %(headline)s", "%(count)s new updates: %(headline)s", count),
      { count: count, headline: announcing[count - 1] },
      true
    );
    if (waitingInButton) text += ". " + gettext("Show them with the new updates button at the top.");
    announcing = [];
    waitingInButton = false;
    announcer.textContent = text;
  }

  document.addEventListener("focusout", function () {
    if (announcing.length && !announceTimer) announceTimer = setTimeout(announce, ANNOUNCE_AFTER_MS);
  });

  // Whether the card is newer than every update shown: a new update, not an older entry
  // restored or moved, whichever order the reader reads in.
  function isNewest(card) {
    var here = position(card);
    return Array.prototype.every.call(document.querySelectorAll("article.entry"), function (other) {
      return other === card || precedes(here, position(other), true);
    });
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

  // Returns the first of them on the page, for the focus.
  function showWaiting() {
    var entries = Array.from(waiting.values());
    waiting.clear();
    var shown = entries.map(function (entry) {
      var card = cardFrom(entry);
      place(card, stream);
      return card;
    });
    tidy();
    showUnseen();
    return firstOnPage(shown);
  }

  function firstOnPage(shown) {
    return shown.filter(function (card) { return card.isConnected; }).sort(function (a, b) {
      return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    })[0];
  }

  function showUnseen() {
    var count = waiting.size + unseen;
    newUpdates.hidden = waiting.size === 0;
    newUpdates.textContent = interpolate(
      ngettext("%(count)s new update", "%(count)s new updates", waiting.size),
      { count: waiting.size },
      true
    );
    document.title = count ? "(" + count + ") " + baseTitle : baseTitle;
  }

  newUpdates.addEventListener("click", function () {
    var first = showWaiting();
    // Where the reader's keyboard and screen reader go on from: the first new update.
    if (first) first.focus({ preventScroll: true });
    window.scrollTo({ top: 0, behavior: smoothly() });
  });

  function smoothly() {
    return window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
  }

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
    badge.textContent = STATUS[event.status] || event.status;
    document.getElementById("notice-scheduled").hidden = event.status !== "scheduled";
    document.getElementById("notice-ended").hidden = event.status !== "ended";
    live.dataset.status = event.status;
    // Sanitised on the server. Replaced only when changed: a catch-up leaves a reader's
    // place in them (a selection, a focused link) alone. Not announced.
    if (keyPoints && typeof event.key_points === "string" && event.key_points !== keyPointsShown) {
      keyPointsShown = keyPointsText.innerHTML = event.key_points;
      keyPoints.hidden = !event.key_points;
    }
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
      setConnection("paused", gettext("Updates paused")); // the polling asks again
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
    // after a restart, thousands of readers come back without a request each. Each entry
    // comes as its card and what places it (entry=card): the page reads nothing else of it,
    // and the raw fields the card shows were a third of every frame to every reader.
    socket = new WebSocket(
      scheme + location.host + config.socketPath + "?since=" + feed.revision + "&entry=card"
    );
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
        setConnection("live", gettext("Live"));
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
    setConnection(
      "reconnecting",
      navigator.onLine === false ? gettext("Updates paused") : gettext("Reconnecting…")
    );
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
        if (!socket) setConnection("reconnecting", gettext("Reconnecting…"));
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
        // Shown already (pinned, or moved up since), or changed since this page was
        // built: the feed's newer state counts (deleted, or kept aside in leftOut).
        if (document.getElementById("entry-" + entry.id) || waiting.has(entry.id)) return;
        if (feed.knowsNewer(entry.id, entry.revision)) return;
        feed.know(entry.id, entry.revision);
        leftOut.set(entry.id, entry);
      });
      var last = page.entries[page.entries.length - 1];
      if (last) {
        loadMore.dataset.lastPublished = last.published_at;
        loadMore.dataset.lastId = last.id;
      }
      setCursor(page.next);
      // What the page brought, and entries changed to a place it now reaches.
      var shown = [];
      leftOut.forEach(function (entry) {
        var card = cardFrom(entry);
        if (place(card, entry.pinned ? pinned : stream)) {
          leftOut.delete(entry.id);
          shown.push(card);
        }
      });
      tidy();
      return firstOnPage(shown);
    });
  }

  loadMore.addEventListener("click", function (event) {
    event.preventDefault();
    if (loadMore.getAttribute("aria-busy")) return;
    loadMore.setAttribute("aria-busy", "true");
    stream.setAttribute("aria-busy", "true");
    loadNextPage()
      .then(function (first) {
        // On to what the page brought, as a reader of the feed expects.
        if (first) first.focus();
      })
      .catch(function (error) { console.warn("Load more failed:", error); })
      .then(function () {
        loadMore.removeAttribute("aria-busy");
        stream.removeAttribute("aria-busy");
      });
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
        card.focus({ preventScroll: true });
        return;
      }
      if (moreToLoad() && tries++ < 10) return loadNextPage().then(look);
      location.assign(location.pathname + "entries/" + id + "/");
    })();
  }

  window.addEventListener("hashchange", revealTarget);

  renderTimes(document);
  numberCards();
  setInterval(function () {
    renderTimes(document);
  }, 30000);
  revealTarget();
  if (live.dataset.status !== "ended") connect();
})();
