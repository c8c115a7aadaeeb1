// The desk: Ctrl+Enter (Cmd+Enter) posts, Preview shows the card as readers will see
// it, and the number of readers refreshes on its own. The forms work without it.
(function () {
  "use strict";

  // Words in the page's language, from the scripts' catalog loaded before this script
  // (views.script_strings); as written here should it have failed to load.
  var gettext = window.gettext || function (text) { return text; };
  var desk = document.getElementById("desk");
  var form = document.getElementById("post-form");
  var preview = document.getElementById("preview");
  var readersCount = document.getElementById("readers-count");

  // Capturing, so that the editor does not first take Ctrl+Enter as a line break.
  form.addEventListener(
    "keydown",
    function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        event.stopPropagation();
        form.requestSubmit();
      }
    },
    true
  );

  // The rich-text editors (django-prose-editor: the body, the key points) come with the
  // first touch of a form that has one, not with the desk (updates/desk.py): some 150 KB
  // of script that a phone on a slow network does without until it is needed. Until then
  // the field is a plain textarea, which takes typing: what is typed there becomes the
  // editor's paragraphs, as words, never read as HTML.
  var RICH_TEXT = "textarea[data-django-prose-editor-configurable]";
  var editorMedia = document.getElementById("editor-media");
  var typedPlain = new Map(); // textarea: what was typed into it before its editor came
  var focused = null; // the element that last took the focus

  function startEditors() {
    if (!editorMedia) return;
    var media = editorMedia;
    editorMedia = null;
    // Scripts cloned out of a <template> run once in the page, as if written there.
    document.head.append(media.content.cloneNode(true));
  }

  function startEditorsFor(event) {
    var around = event.target.closest && event.target.closest("form, details");
    if (around && around.querySelector(RICH_TEXT)) startEditors();
  }

  // A form sent back with its errors is one the journalist is in the middle of.
  var refused = Array.prototype.some.call(desk.querySelectorAll("form"), function (each) {
    return each.querySelector(RICH_TEXT) && each.querySelector(".errorlist, .errornote");
  });
  if (refused) startEditors();
  // So is a form that a draft has just been put back into (static/drafts.js).
  desk.addEventListener("drafts:restored", startEditors);
  desk.addEventListener("focusin", function (event) {
    focused = event.target;
    startEditorsFor(event);
  });
  desk.addEventListener("pointerdown", startEditorsFor);
  desk.addEventListener("input", function (event) {
    if (event.target.matches(RICH_TEXT) && !event.target.closest(".prose-editor")) {
      typedPlain.set(event.target, event.target.value);
    }
  });

  function paragraphs(text) {
    var box = document.createElement("div");
    text.split(/\n+/).forEach(function (line) {
      if (!line.trim()) return;
      var paragraph = document.createElement("p");
      paragraph.textContent = line;
      box.append(paragraph);
    });
    return box.innerHTML;
  }

  // The rich-text editors type into a box of their own, not the hidden textarea that
  // the field's <label> is for: the box takes the label's name.
  function nameEditor(textarea) {
    var box = textarea.parentNode.querySelector(":scope > .ProseMirror");
    var label = desk.querySelector('label[for="' + textarea.id + '"]');
    if (!box || !label) return;
    label.id = label.id || textarea.id + "-label";
    box.setAttribute("aria-labelledby", label.id);
  }

  // On a phone the Post buttons stay at the foot of the screen (desk.css): the editor
  // keeps the line being typed above them, as the browser keeps a focused field
  // (ProseMirror's scrollThreshold and scrollMargin, in px from each side).
  var buttons = form.querySelector(".desk__buttons");
  function clearOfButtons(editor) {
    function fit() {
      var below = getComputedStyle(buttons).position === "sticky" ? buttons.offsetHeight + 8 : 5;
      editor.view.setProps({
        scrollThreshold: { top: 0, right: 0, bottom: below, left: 0 },
        scrollMargin: { top: 5, right: 5, bottom: below, left: 5 },
      });
    }
    fit();
    window.addEventListener("resize", fit);
  }

  // Each editor as startEditors() brings it: none exists before this script runs.
  desk.addEventListener("prose-editor:ready", function (event) {
    var textarea = event.detail.textarea;
    var editor = event.detail.editor;
    nameEditor(textarea);
    if (form.contains(textarea)) clearOfButtons(editor);
    var typed = typedPlain.get(textarea);
    typedPlain.delete(textarea);
    if (typed !== undefined && textarea.value === typed) editor.commands.setContent(paragraphs(typed));
    // The caret goes on where it was, now in the editor. (Moved into the editor's box,
    // the textarea lost the focus to the page.)
    var stillThere = document.activeElement === textarea || document.activeElement === document.body;
    if (focused === textarea && stillThere) editor.commands.focus("end");
  });

  document.getElementById("preview-button").addEventListener("click", function () {
    // No files: the pictures in it are those uploaded as they were chosen, by their tokens.
    var words = new FormData(form);
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      words.delete(input.name);
    });
    fetch(desk.dataset.previewUrl, { method: "POST", body: words })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        // The card as the server renders and sanitises it, in the live page's styles,
        // inside a sandbox where nothing in it can run.
        showPreview('<link rel="stylesheet" href="' + desk.dataset.cardCss + '"><div class="page">' + html + "</div>");
      })
      .catch(function (error) {
        var failed = document.createElement("p");
        failed.textContent = gettext("The preview failed:") + " " + error.message;
        showPreview(failed.outerHTML);
      });
  });

  function showPreview(html) {
    preview.srcdoc = html;
    preview.hidden = false;
  }

  function refreshReaders() {
    fetch(desk.dataset.readersUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("reader count unavailable");
        return response.json();
      })
      .then(function (data) { readersCount.textContent = data.readers; })
      .catch(function () { readersCount.textContent = "–"; });
  }

  refreshReaders();
  setInterval(refreshReaders, 5000);

  // The embed snippet's Copy button, where the browser lets a page write the clipboard.
  var copyEmbed = document.getElementById("copy-embed");
  if (navigator.clipboard) {
    copyEmbed.hidden = false;
    copyEmbed.addEventListener("click", function () {
      var done = document.getElementById("copy-embed-done");
      navigator.clipboard.writeText(document.getElementById("embed-code").value).then(
        function () { done.textContent = gettext("Copied."); },
        function () { done.textContent = gettext("Select the code and copy it."); }
      );
    });
  }
})();
