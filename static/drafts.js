// What is typed into the desk's post form or the admin's entry form, kept as a draft
// (templates/admin/updates/entry/_draft.html; updates/drafts.py): in this browser at once,
// against a crashed tab or a lost connection, and on the server a moment later, against a
// new laptop. A page whose form is as served gets the newer of the two back, and says so.
// A form the server sent back with its errors is what was typed: it is kept, not replaced.
//
// A draft holds what the journalist changed from the form as served (a time left as
// offered stays "as of posting"), and the pictures' rows: {fields: {name: value or
// checked}, pictures: [{alt, caption, credit, uploaded, kept, ORDER, DELETE, thumbnail}],
// version: the entry's version the editor opened, or null}.
//
// On the desk, Post sends the form from here, so that a refused or failed post keeps the
// text and says what to do; without this script the form posts as it always has.
(function () {
  "use strict";

  var data = document.getElementById("draft-keeper");
  var keeper = data && JSON.parse(data.textContent);
  var form = keeper && document.getElementById(keeper.form);
  if (!form) return;
  // Words in the page's language, from the scripts' catalog loaded before this script
  // (views.script_strings); as written here should it have failed to load.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (all, name) { return values[name]; });
  };
  var SERVER_AFTER = 2000; // ms after the last keystroke
  var SERVER_AT_MOST = 10000; // ms after the first unsaved one, however fast the typing
  var RETRY_AFTER = 15000;
  var KEEPALIVE_MOST = 60000; // a browser sends at most 64 KB as the page closes
  var POST_PATIENCE = 60000;

  var pictures = form.querySelector("#pictures");
  var servedRows = null; // the pictures' rows as served, for Discard
  var carried = {}; // on a form sent back with errors: the names typed before the post
  var quiet = false; // while a draft is put into the form
  var leaving = false;
  var timer = null;
  var firstUnsaved = null;
  var saving = null; // the server's answer under way
  var again = false;
  var posting = false;

  // ---- What is typed --------------------------------------------------------------

  function isRichText(element) {
    return element.tagName === "TEXTAREA" && (
      element.parentNode.classList.contains("prose-editor") ||
      Object.keys(element.dataset).some(function (key) { return key.indexOf("djangoProseEditor") === 0; })
    );
  }

  // The fields a journalist types into: not the hidden ones (the form's own bookkeeping,
  // the time as offered), not files, not the pictures' rows (pictureRows()).
  function typable() {
    return Array.prototype.filter.call(form.elements, function (element) {
      return element.name && !element.disabled &&
        element.name !== "csrfmiddlewaretoken" &&
        ["hidden", "file", "submit", "button", "reset", "image"].indexOf(element.type) < 0 &&
        element.tagName !== "BUTTON" && element.tagName !== "FIELDSET" &&
        !(pictures && pictures.contains(element));
    });
  }

  function valueOf(element) {
    return element.type === "checkbox" || element.type === "radio" ? element.checked : element.value;
  }

  function servedValueOf(element) {
    if (element.type === "checkbox" || element.type === "radio") return element.defaultChecked;
    if (element.tagName === "SELECT") {
      var chosen = Array.prototype.filter.call(element.options, function (option) {
        return option.defaultSelected;
      })[0] || element.options[0];
      return chosen ? chosen.value : "";
    }
    return element.defaultValue;
  }

  function setValue(element, value) {
    if (element.type === "checkbox" || element.type === "radio") element.checked = Boolean(value);
    else if (isRichText(element)) setBody(element, String(value));
    else element.value = value;
  }

  // django-prose-editor builds its editor from the textarea's value and writes each change
  // back to it: before the editor exists, the value is enough; after, the editor (which
  // tiptap hangs on its element, beside the textarea: the menu's samples are ProseMirror
  // boxes too) takes the new content and writes it back itself.
  function editorOf(textarea) {
    var box = textarea.parentNode.querySelector(":scope > .ProseMirror");
    return box && box.editor;
  }

  function setBody(textarea, html) {
    textarea.value = html;
    var editor = editorOf(textarea);
    if (editor) editor.commands.setContent(html);
  }

  // The body as the editor writes it (as a draft holds it), not as it was stored: the
  // same words compare equal whatever the markup's spelling.
  function bodyAsWritten(textarea) {
    var editor = editorOf(textarea);
    if (!editor) return textarea.value;
    var html = editor.getHTML();
    return /^<(\w+)(\s[^>]*)?><\/\1>$/i.test(html) ? "" : html; // as the editor's own onUpdate
  }

  function typedFields() {
    var fields = {};
    typable().forEach(function (element) {
      if (valueOf(element) !== servedValueOf(element) || carried[element.name]) {
        fields[element.name] = valueOf(element);
      }
    });
    return fields;
  }

  // Each row's words and picture, up to the last row with any: a row's number is its
  // place in the formset, kept as it is.
  function pictureRows() {
    if (!pictures) return [];
    var rows = Array.prototype.map.call(pictures.querySelectorAll(".pictures__row"), function (row) {
      var values = {};
      row.querySelectorAll("input[name^='pictures-'], textarea[name^='pictures-']").forEach(function (input) {
        if (input.type === "file") return;
        var name = input.name.replace(/^pictures-\d+-/, "");
        var value = valueOf(input);
        if (value) values[name] = value;
      });
      var shown = row.querySelector(".pictures__chosen") || row.querySelector(".pictures__thumbnail");
      var address = shown && shown.getAttribute("src");
      // A file shown from the browser's memory is not uploaded: no draft can keep it.
      if (address && address.indexOf("blob:") !== 0 && (values.uploaded || values.kept)) {
        values.thumbnail = address;
      }
      return values;
    });
    while (rows.length && !Object.keys(rows[rows.length - 1]).length) rows.pop();
    return rows;
  }

  function openedVersion() {
    var opened = form.elements.namedItem("opened_version");
    return opened && opened.value ? Number(opened.value) : keeper.version;
  }

  function typedNow() {
    return { fields: typedFields(), pictures: pictureRows(), version: openedVersion() };
  }

  function sameRows(one, other) {
    return JSON.stringify(one || []) === JSON.stringify(other || []);
  }

  function sameFields(one, other) {
    var names = Object.keys(one || {});
    return names.length === Object.keys(other || {}).length && names.every(function (name) {
      return other[name] === one[name];
    });
  }

  // Nothing changed from the form as served.
  function isEmpty(draft) {
    return !Object.keys(draft.fields).length && sameRows(draft.pictures, servedRows);
  }

  // The form has every value the draft holds already (as after saving it).
  function addsNothing(draft) {
    return Object.keys(draft.fields).every(function (name) {
      var element = form.elements.namedItem(name);
      if (!element || element.name !== name) return false;
      var value = isRichText(element) ? bodyAsWritten(element) : valueOf(element);
      return value === draft.fields[name];
    }) && sameRows(draft.pictures, pictureRows());
  }

  // The form shows exactly the draft.
  function showsDraft(draft) {
    return sameFields(typedFields(), draft.fields) && sameRows(pictureRows(), draft.pictures);
  }

  // ---- In this browser ------------------------------------------------------------

  function readLocal() {
    try {
      var record = JSON.parse(localStorage.getItem(keeper.key));
      return record && record.fields ? record : null;
    } catch (error) {
      return null; // storage refused (private mode) or spoiled: the server's copy remains
    }
  }

  function writeLocal(record) {
    try {
      localStorage.setItem(keeper.key, JSON.stringify(record));
    } catch (error) {
      status(gettext("This browser cannot keep the draft: it is kept on the server only."));
    }
  }

  function removeLocal() {
    try {
      localStorage.removeItem(keeper.key);
    } catch (error) {
      // nothing kept, nothing to remove
    }
  }

  // At once, at every change; the server's copy follows a moment later. Only a change:
  // a box left as it was fires "change" too, and this tab's old text must not come back
  // after another tab has posted or saved it.
  function keep(force) {
    if (quiet || leaving) return;
    var draft = typedNow();
    var local = readLocal();
    var same = local ? sameFields(local.fields, draft.fields) && sameRows(local.pictures, draft.pictures) : isEmpty(draft);
    if (same && force !== true) return;
    if (isEmpty(draft)) {
      removeLocal();
    } else {
      draft.savedAt = Date.now();
      draft.synced = false;
      draft.serverSavedAt = (local || {}).serverSavedAt || null;
      writeLocal(draft);
    }
    saveSoon();
  }

  // ---- On the server --------------------------------------------------------------

  function csrfToken() {
    // The cookie first: signing in again in another tab gives this browser a new token,
    // which the form's copy predates.
    var name = keeper.csrf_cookie;
    var cookie = name && document.cookie.split("; ").filter(function (pair) {
      return pair.indexOf(name + "=") === 0;
    })[0];
    if (cookie) return decodeURIComponent(cookie.slice(name.length + 1));
    return form.elements.namedItem("csrfmiddlewaretoken").value;
  }

  function SignedOut() {}

  // The drafts URL answers JSON to a signed-in journalist; the admin sends anyone else to
  // its login page, a redirect that is not followed here: the session has ended.
  function ask(method, body, keepalive) {
    return fetch(keeper.url, {
      method: method,
      body: body,
      keepalive: Boolean(keepalive),
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      if (response.type === "opaqueredirect") throw new SignedOut();
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) throw new Error(answer.error || gettext("The server answered") + " " + response.status);
        return answer;
      });
    });
  }

  function saveSoon() {
    if (!firstUnsaved) firstUnsaved = Date.now();
    clearTimeout(timer);
    var wait = Math.min(SERVER_AFTER, firstUnsaved + SERVER_AT_MOST - Date.now());
    timer = setTimeout(save, Math.max(0, wait));
  }

  function save(closing) {
    clearTimeout(timer);
    timer = null;
    if (saving) {
      again = true;
      return saving;
    }
    firstUnsaved = null;
    var local = readLocal();
    var payload = local && JSON.stringify({ fields: local.fields, pictures: local.pictures, version: local.version });
    if (closing && payload && payload.length > KEEPALIVE_MOST) return null; // this browser has it
    saving = (local ? ask("POST", payload, closing) : ask("DELETE", null, closing))
      .then(function (answer) {
        var now = readLocal();
        if (local && now && now.savedAt === local.savedAt) {
          now.synced = true;
          now.serverSavedAt = answer.saved_at;
          writeLocal(now);
        }
        status(local ? interpolate(gettext("Draft saved at %(time)s."), { time: clock(Date.now()) }, true) : "");
      }, function (problem) {
        if (problem instanceof SignedOut) {
          // Tried again at the next keystroke, not on a timer: signing in again in another
          // tab brings this draft there, and this tab's copy must not land after that tab
          // has posted it.
          status(gettext("You are signed out: this draft is kept in this browser only."));
          return;
        }
        if (problem instanceof TypeError) {
          status(gettext("The server cannot be reached: this draft is kept in this browser."));
        } else {
          status(problem.message);
        }
        if (!leaving) timer = setTimeout(save, RETRY_AFTER);
      })
      .then(function () {
        saving = null;
        if (again) {
          again = false;
          saveSoon();
        }
      });
    return saving;
  }

  // ---- What the journalist is told ------------------------------------------------

  var notice = document.createElement("div");
  notice.className = "drafts__notice";
  notice.setAttribute("role", "status");
  notice.hidden = true;
  form.prepend(notice);

  var problemBox = document.createElement("div");
  problemBox.className = "errornote drafts__problem";
  problemBox.setAttribute("role", "alert");
  problemBox.hidden = true;
  var buttons = form.querySelector(".desk__buttons, .submit-row");
  if (buttons) buttons.before(problemBox);
  else form.prepend(problemBox);

  var statusLine = document.createElement("span");
  statusLine.className = "help drafts__status";
  (buttons || notice.parentNode).appendChild(statusLine);

  function clock(time) {
    return new Date(time).toLocaleTimeString(document.documentElement.lang || [], { hour: "2-digit", minute: "2-digit" });
  }

  function status(text) {
    statusLine.textContent = text;
  }

  function button(label, action) {
    var made = document.createElement("button");
    made.type = "button";
    made.className = "button";
    made.textContent = label;
    made.addEventListener("click", action);
    return made;
  }

  // parts: text, or elements (a link, a button).
  function say(box, parts) {
    box.replaceChildren();
    (parts || []).forEach(function (part) {
      box.append(part, " ");
    });
    box.hidden = !parts;
  }

  // ---- Back to the text -----------------------------------------------------------

  function restore(draft) {
    quiet = true;
    try {
      Object.keys(draft.fields).forEach(function (name) {
        var element = form.elements.namedItem(name);
        if (element && element.name === name && !element.disabled) setValue(element, draft.fields[name]);
      });
      if (pictures && draft.pictures) {
        pictures.dispatchEvent(new CustomEvent("pictures:restore", { detail: draft.pictures }));
      }
    } finally {
      quiet = false;
    }
    // The desk starts its rich-text editor for it (static/desk.js): the text goes on there.
    form.dispatchEvent(new CustomEvent("drafts:restored", { bubbles: true }));
  }

  // The form as served again: every field changed put back, the rows as they came.
  function backToServed() {
    quiet = true;
    try {
      typable().forEach(function (element) {
        if (valueOf(element) !== servedValueOf(element)) setValue(element, servedValueOf(element));
      });
      if (pictures) pictures.dispatchEvent(new CustomEvent("pictures:restore", { detail: servedRows }));
    } finally {
      quiet = false;
    }
  }

  function discard() {
    backToServed();
    carried = {};
    removeLocal();
    firstUnsaved = null;
    again = false;
    clearTimeout(timer);
    Promise.resolve(saving).then(function () { return ask("DELETE"); }).then(
      function () { status(""); },
      function () { status(gettext("Discarded here; the server's copy goes when it can be reached.")); }
    );
    say(notice, [gettext("Draft discarded.")]);
  }

  function restored(draft) {
    restore(draft);
    if (draft.fromServer) {
      writeLocal({ fields: draft.fields, pictures: draft.pictures, version: draft.version,
        savedAt: draft.savedAt, synced: true, serverSavedAt: draft.serverSavedAt });
    } else if (!draft.synced) {
      saveSoon(); // typed while the server could not be told (signed out, offline)
    }
    say(notice, [
      interpolate(gettext("Your unsaved text from %(time)s is back."), { time: clock(draft.savedAt) }, true),
      button(gettext("Discard"), discard),
    ]);
  }

  // The newer of this browser's draft and the server's. This browser's, when the server's
  // is the one it saved last; none, when this browser's was saved there before the page
  // was served and the server has none: posted, saved, or discarded since, from anywhere.
  function chosen() {
    var local = readLocal();
    var kept = keeper.server;
    var server = kept && { fields: kept.fields, pictures: kept.pictures, version: kept.version,
      savedAt: Date.parse(kept.saved_at), serverSavedAt: kept.saved_at, fromServer: true };
    if (local && !server && local.synced && Date.parse(local.serverSavedAt) < Date.parse(keeper.read_at)) {
      removeLocal();
      return null;
    }
    if (local && server && local.serverSavedAt && Date.parse(local.serverSavedAt) === server.savedAt) return local;
    if (!local || !server) return local || server;
    return local.savedAt >= server.savedAt ? local : server;
  }

  function start() {
    servedRows = pictureRows();
    var draft = chosen();
    if (keeper.bound) {
      // What was typed before the post is what the form shows now: still the draft's.
      if (draft) {
        Object.keys(draft.fields).forEach(function (name) { carried[name] = true; });
      }
      if (draft || !isEmpty(typedNow())) keep(true);
      return;
    }
    if (!draft || !isEmpty(typedNow())) return;
    if (isEmpty(draft) || addsNothing(draft)) {
      // Nothing to give back: what it holds is what the form shows.
      removeLocal();
      if (keeper.server) ask("DELETE").catch(function () {});
      return;
    }
    if (keeper.version !== null && draft.version !== keeper.version) {
      // Written on an older version of the entry: put back only if asked.
      say(notice, [
        interpolate(gettext("You have unsaved text from %(time)s, written on an earlier version of this entry: it has been saved since."), { time: clock(draft.savedAt) }, true),
        button(gettext("Put my text back"), function () { restored(draft); }),
        button(gettext("Discard"), discard),
      ]);
      return;
    }
    restored(draft);
  }

  // ---- Posting from the desk ------------------------------------------------------

  function problem(parts) {
    say(problemBox, parts);
  }

  function unsent(parts) {
    posting = false;
    form.removeAttribute("aria-busy");
    problem(parts);
  }

  function signedOut() {
    var link = document.createElement("a");
    link.href = keeper.login + "?next=" + encodeURIComponent(location.pathname);
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = gettext("Sign in again (in a new tab)");
    unsent([
      gettext("You have been signed out, so nothing was posted. Your text is kept: sign in again, then post it."),
      link,
    ]);
  }

  function posted() {
    leaving = true;
    removeLocal();
    location.assign(keeper.desk);
  }

  // The browser posts it itself, and shows the page the server sends back: for a form
  // with errors, which stored nothing (the desk answers 400), so posting it again is safe.
  function postNatively() {
    leaving = true;
    form.elements.namedItem("csrfmiddlewaretoken").value = csrfToken();
    form.submit();
  }

  // A redirect answers a post either way: to the desk once posted, to the login page when
  // signed out. It is not followed (that would use up the desk's "Published" message), so
  // the drafts URL, which redirects only the signed-out, tells which.
  function afterRedirect() {
    return ask("GET").then(posted, function (failure) {
      if (failure instanceof SignedOut) signedOut();
      else if (failure instanceof TypeError) unanswered();
      else posted(); // an answer, if not the usual one: signed in, so the post went through
    });
  }

  function unanswered() {
    unsent([gettext("The server stopped answering: reload the desk to see whether your update is there before posting it again. Your text is kept.")]);
  }

  function post() {
    var body = new FormData(form);
    body.set("csrfmiddlewaretoken", csrfToken());
    // Not "posting…" for ever: a server that takes the post and never answers is said so.
    var giveUp = new AbortController();
    var patience = setTimeout(function () { giveUp.abort(); }, POST_PATIENCE);
    return fetch(form.action, { method: "POST", body: body, credentials: "same-origin", redirect: "manual", signal: giveUp.signal })
      .then(function (response) {
        clearTimeout(patience);
        if (response.type === "opaqueredirect") return afterRedirect();
        if (response.status >= 500) {
          saveSoon(); // the server's copy, once it can take it again
          return unsent([interpolate(gettext("Could not save (the server answered %(status)s): nothing was posted, your text is kept. Try again in a moment."), { status: response.status }, true)]);
        }
        if (response.status === 403) {
          return unsent([gettext("The server refused this post: reload the page and post again. Your text is kept.")]);
        }
        postNatively();
      }, function () {
        saveSoon();
        if (giveUp.signal.aborted) unanswered();
        else unsent([gettext("Could not reach the server: nothing was posted, your text is kept. Try again.")]);
      });
  }

  if (keeper.desk) {
    form.addEventListener("submit", function (event) {
      // Another script holds the post back (pictures.js, until its uploads end).
      if (event.defaultPrevented) return;
      event.preventDefault();
      if (posting) return;
      posting = true;
      form.setAttribute("aria-busy", "true");
      keep();
      clearTimeout(timer);
      firstUnsaved = null;
      problem(null);
      // After the draft's last save (a few seconds at most): one landing after the post
      // would outlive it.
      var waited = new Promise(function (done) { setTimeout(done, 3000); });
      Promise.race([Promise.resolve(saving), waited]).then(post);
    });
  } else {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      keep();
      // The save discards the server's copy (EntryAdmin.save_model): nothing must follow it.
      leaving = true;
      clearTimeout(timer);
    });
  }

  form.addEventListener("input", keep);
  form.addEventListener("change", keep);

  // Closing the tab or leaving it in the background on a phone: the last words now.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && firstUnsaved && !leaving) save(true);
  });

  // Posted or discarded in another tab of this browser: the same text here goes too,
  // lest it be posted twice.
  window.addEventListener("storage", function (event) {
    if (event.key !== keeper.key || event.newValue !== null || !event.oldValue) return;
    var gone;
    try {
      gone = JSON.parse(event.oldValue);
    } catch (error) {
      return;
    }
    if (!gone || !gone.fields || !showsDraft(gone) || posting) return;
    clearTimeout(timer);
    firstUnsaved = null;
    again = false;
    if (keeper.bound) {
      // As served, this form holds the text: the page as it is now holds it no more.
      leaving = true;
      location.assign(location.href);
      return;
    }
    backToServed();
    carried = {};
    problem(null);
    say(notice, [gettext("This text was posted or discarded in another tab.")]);
  });

  start();
})();
