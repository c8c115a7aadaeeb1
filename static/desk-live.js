// The desk, live. On the desk: the list of entries follows colleagues' posts, edits,
// pins, approvals and deletions, and says who else is on the desk and who is editing
// which entry. On an entry's change page: a warning when a colleague is editing the same
// entry, or has saved it since it was opened, before anything typed is lost.
//
// One socket per page, /ws/desk/<event_id>/ (docs/api.md): the readers' changes in
// revision order with their heartbeats, "desk.entry" after every change (drafts too),
// and who is here ("desk.here", "desk.gone"). Rows are never built here: each comes from
// the server as this journalist's desk renders it (updates/desk.py entry_row,
// entry_rows), with their own buttons. The page works without this script.
(function () {
  "use strict";

  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, other, count) { return count === 1 ? one : other; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  };

  var desk = document.getElementById("desk");
  var warning = document.getElementById("desk-editing"); // on an entry's change page
  var root = desk || warning;
  if (!root || !root.dataset.socket) return;

  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_CAP_MS = 30000;
  // Heartbeats come every 20 to 30 s (docs/api.md): longer without a frame, the socket
  // is dead even if the browser still calls it open.
  var SILENCE_MS = 75000;
  // A drop shorter than this (a server restarting) is not worth a word.
  var QUIET_DROP_MS = 3000;

  // ---- Who is here -------------------------------------------------------------------

  // Each colleague's page on this desk, by its id on the socket: {name, editing, until}.
  // Forgotten when it says goodbye, or when not heard from in time (a server killed
  // never says goodbye); re-learnt from the answers to this page's arrival.
  var people = new Map();

  function heard(message) {
    people.set(message.id, {
      name: message.name,
      editing: message.editing,
      until: Date.now() + (message.forget_after || 36) * 1000,
    });
    showPresence();
  }

  function forget(id) {
    if (people.delete(id)) showPresence();
  }

  setInterval(function () {
    var now = Date.now();
    var before = people.size;
    people.forEach(function (person, id) {
      if (person.until < now) people.delete(id);
    });
    if (people.size !== before) showPresence();
  }, 5000);

  // Each name once (a colleague may have the desk open twice), in alphabetical order.
  function names(which) {
    var found = new Set();
    people.forEach(function (person) {
      if (!which || which(person)) found.add(person.name);
    });
    return Array.from(found).sort(function (a, b) { return a.localeCompare(b); });
  }

  function editing(entryId) {
    return names(function (person) { return person.editing === entryId; });
  }

  function showPresence() {
    if (desk) {
      var here = names();
      var line = document.getElementById("desk-presence");
      line.hidden = !here.length;
      line.textContent = here.length
        ? interpolate(gettext("On the desk: %(names)s"), { names: here.join(", ") }, true)
        : "";
      document.querySelectorAll("#desk-entries-body tr.desk__entry").forEach(showEditors);
    }
    if (warning) showWarning();
  }

  function idOf(row) {
    return Number(row.id.replace("desk-entry-", ""));
  }

  function showEditors(row) {
    var box = row.querySelector(".desk__editing");
    if (!box) return;
    var editors = editing(idOf(row));
    var text = editors.length
      ? interpolate(gettext("Editing now: %(names)s"), { names: editors.join(", ") }, true)
      : "";
    box.hidden = !text;
    if (box.textContent !== text) box.textContent = text;
  }

  // ---- The change page's warning -----------------------------------------------------

  var entryId = warning ? Number(warning.dataset.entry) : null;
  // What the save will be checked against (EntryAdminForm opened_version).
  var versionField = document.querySelector("input[name=opened_version]");
  var openedVersion = Number((versionField && versionField.value) || (warning && warning.dataset.version));
  // Its last change readers saw, when opened: a later one is a colleague's save too.
  var openedRevision = warning ? Number(warning.dataset.revision) : 0;
  var savedSinceOpened = false;

  function showWarning() {
    var parts = [];
    var editors = editing(entryId);
    if (editors.length) {
      parts.push(interpolate(
        ngettext(
          "%(names)s is editing this entry right now. If you both save, the later save will be refused: agree who makes the changes.",
          "%(names)s are editing this entry right now. If you both save, the later save will be refused: agree who makes the changes.",
          editors.length
        ),
        { names: editors.join(", ") },
        true
      ));
    }
    if (savedSinceOpened) {
      parts.push(gettext(
        "Someone saved this entry after you opened it: your save will be refused. Reload the page to see their version: what you typed is kept, and offered back."
      ));
    }
    var text = parts.join(" ");
    // Only a change is said again (role="alert"), not every colleague's announcement.
    if (warning.textContent !== text) warning.textContent = text;
  }

  if (warning) {
    // At the top of the form, where it is seen before Save.
    var main = document.getElementById("content-main");
    if (main) main.prepend(warning);
    var form = document.querySelector("#content-main form");
    if (form) {
      // Leaving: this page's own save must not read as a colleague's, and the others
      // stop seeing this journalist on the entry.
      form.addEventListener("submit", function () {
        stopped = true;
        if (socket) socket.close(1000);
      });
    }
  }

  // ---- The list ----------------------------------------------------------------------

  var revision = desk ? Number(tbody().dataset.revision) : 0;
  var wantedList = false;
  var wantedRows = new Map(); // entry id => {version} or {revision}: news of it
  var working = false;
  var fetchFailures = 0;
  var retryTimer = null;

  function tbody() {
    return document.getElementById("desk-entries-body");
  }

  function rowOf(id) {
    return document.getElementById("desk-entry-" + id);
  }

  // Whether the row shown is at least as new as the news.
  function fresh(id, news) {
    var row = rowOf(id);
    if (!row) return false;
    if (news.version) return Number(row.dataset.version) >= news.version;
    return Number(row.dataset.revision) >= news.revision;
  }

  function wantRow(id, news) {
    if (fresh(id, news)) return;
    wantedRows.set(id, news);
    work();
  }

  function wantList() {
    wantedList = true;
    wantedRows.clear(); // the list brings them
    work();
  }

  // One fetch at a time, in the order the news came: an answer is never older than the
  // one before it, so a row is never put back to an older state.
  function work() {
    if (working) return;
    var task;
    if (wantedList) {
      wantedList = false;
      task = getHtml(desk.dataset.rowsUrl).then(putList);
    } else if (wantedRows.size) {
      var id = wantedRows.keys().next().value;
      var news = wantedRows.get(id);
      wantedRows.delete(id);
      if (fresh(id, news)) return work();
      // The row's address is the list's with the entry's id (desk.urls).
      task = getHtml(desk.dataset.rowsUrl + id + "/").then(function (html) {
        if (html === null) removeRow(id);
        else putRow(element(html));
      });
    } else {
      return;
    }
    working = true;
    task.then(
      function () { fetchFailures = 0; },
      function (error) {
        console.warn("Could not refresh the desk's list:", error);
        // A session expired or a server away: the whole list again, later.
        clearTimeout(retryTimer);
        retryTimer = setTimeout(wantList, backoff(fetchFailures++));
      }
    ).then(function () {
      working = false;
      work();
    });
  }

  function getHtml(url) {
    // Not followed: a signed-out desk would get the login page as its rows.
    return fetch(url, { headers: { Accept: "text/html" }, redirect: "manual" }).then(function (response) {
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(url + " answered " + (response.status || "a redirect"));
      return response.text();
    });
  }

  function element(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // Seconds and microseconds since 1970 (data-published "U.u"), as one number: exact.
  function published(row) {
    var parts = row.dataset.published.split(".");
    return Number(parts[0]) * 1e6 + Number(parts[1] || 0);
  }

  // The server's order (Entry.Meta.ordering): newest first, then the higher id.
  function newer(a, b) {
    return (published(a) - published(b) || idOf(a) - idOf(b)) > 0;
  }

  function rows() {
    return Array.from(tbody().querySelectorAll("tr.desk__entry"));
  }

  // The row with the focus, if a fresh copy replaces it: the focus goes to the same
  // link or button of the copy, not back to the top of the page.
  function keepFocus() {
    var focused = document.activeElement;
    var row = focused && focused.closest && focused.closest("#desk-entries-body tr");
    if (!row) return function () {};
    var index = Array.prototype.indexOf.call(row.querySelectorAll("a, button"), focused);
    return function () {
      if (document.activeElement && document.activeElement !== document.body) return;
      var copy = document.getElementById(row.id);
      var targets = copy ? copy.querySelectorAll("a, button") : [];
      var target = targets[index] || targets[0];
      if (target) target.focus({ preventScroll: true });
    };
  }

  function putRow(row) {
    var list = tbody();
    var shown = rowOf(idOf(row));
    var others = rows().filter(function (other) { return other !== shown; });
    var next = others.find(function (other) { return newer(row, other); }) || null;
    var restoreFocus = keepFocus();
    if (!next && others.length >= Number(list.dataset.limit)) {
      // Older than every entry the list has room for.
      if (shown) shown.remove();
    } else if (shown && nextRow(shown) === next) {
      shown.replaceWith(row);
    } else {
      if (shown) shown.remove();
      list.insertBefore(row, next);
    }
    rows().slice(Number(list.dataset.limit)).forEach(function (extra) { extra.remove(); });
    tidy();
    restoreFocus();
  }

  function nextRow(row) {
    var next = row.nextElementSibling;
    while (next && !next.classList.contains("desk__entry")) next = next.nextElementSibling;
    return next;
  }

  function removeRow(id) {
    var shown = rowOf(id);
    if (shown) shown.remove();
    tidy();
  }

  // The whole list, as fetched: rows whose entry has not changed (same version) stay as
  // they are, so that the focus and the pointer stay where they were.
  function putList(html) {
    if (html === null) return;
    var list = tbody();
    var restoreFocus = keepFocus();
    var fetched = element(html);
    var wanted = Array.from(fetched.children).map(function (row) {
      var shown = row.id && document.getElementById(row.id);
      return shown && shown.dataset.version === row.dataset.version ? shown : row;
    });
    Array.from(list.children).forEach(function (row) {
      if (wanted.indexOf(row) < 0) row.remove();
    });
    wanted.forEach(function (row, index) {
      if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
    });
    list.dataset.revision = fetched.dataset.revision;
    tidy();
    restoreFocus();
  }

  function tidy() {
    var empty = tbody().querySelector(".desk__empty");
    if (empty && rows().length) empty.remove();
    rows().forEach(showEditors);
  }

  // ---- What the socket says ----------------------------------------------------------

  function receive(message) {
    switch (message.type) {
      case "batch":
        message.messages.forEach(receive);
        return;
      case "hello":
        attempts = 0;
        connected();
        revision = message.revision;
        // What changed while this page had no socket (drafts take no revision).
        if (desk) wantList();
        return;
      case "heartbeat":
        if (message.revision > revision) gap(message.revision);
        return;
      case "desk.entry":
        news(message.entry, { version: message.version });
        return;
      case "desk.here":
        heard(message);
        return;
      case "desk.gone":
        forget(message.id);
        return;
    }
    if (typeof message.revision === "number") numbered(message);
  }

  // A change readers see, numbered: applied in order; a gap means some were missed.
  function numbered(change) {
    if (change.revision <= revision) return;
    if (change.revision > revision + 1) return gap(change.revision);
    revision = change.revision;
    if (change.entry) news(change.entry.id, { revision: change.revision });
  }

  function gap(newRevision) {
    revision = newRevision;
    if (desk) wantList();
  }

  function news(id, what) {
    if (desk) wantRow(id, what);
    var saved = what.version > openedVersion || what.revision > openedRevision;
    if (warning && id === entryId && saved && !savedSinceOpened) {
      savedSinceOpened = true;
      showWarning();
    }
  }

  // ---- The socket --------------------------------------------------------------------

  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var silenceTimer = null;
  var sayTimer = null;
  var stopped = false;

  // The desk's state, said once when live updates stop and cleared when they are back.
  function say(text) {
    var connection = document.getElementById("desk-connection");
    if (connection && connection.textContent !== text) connection.textContent = text;
  }

  function connected() {
    clearTimeout(sayTimer);
    say("");
  }

  // Exponential backoff with "equal jitter", at most 30 s, as static/live.js.
  function backoff(failures) {
    var ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * Math.pow(2, failures));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  function listen() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(function () {
      console.warn("No word from the desk's socket; reconnecting");
      var dead = socket;
      dead.onmessage = dead.onclose = null;
      dead.close();
      dropped({ code: 1006 });
    }, SILENCE_MS);
  }

  function connect() {
    reconnectTimer = null;
    if (stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = warning ? "?editing=" + entryId : "";
    socket = new WebSocket(scheme + location.host + root.dataset.socket + query);
    listen();
    socket.onmessage = function (message) {
      listen();
      receive(JSON.parse(message.data));
    };
    socket.onclose = dropped;
  }

  function dropped(event) {
    socket = null;
    clearTimeout(silenceTimer);
    if (stopped) return;
    if (event.code === 4403 || event.code === 4004) {
      stopped = true;
      say(gettext("Live updates are not available on this desk."));
      return;
    }
    var signedOut = event.code === 4401;
    clearTimeout(sayTimer);
    sayTimer = setTimeout(function () {
      say(signedOut
        ? gettext("Live updates paused: you are signed out. Sign in again to see colleagues' changes.")
        : gettext("Live updates paused: reconnecting…"));
    }, signedOut ? 0 : QUIET_DROP_MS);
    // Forever, at most every 30 s: a signed-out journalist may sign in in another tab.
    reconnectTimer = setTimeout(connect, backoff(attempts++));
  }

  window.addEventListener("online", function () {
    if (!socket && !stopped) {
      clearTimeout(reconnectTimer);
      connect();
    }
  });

  connect();
})();
