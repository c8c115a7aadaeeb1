// The pictures of the post form, on the desk and the admin's change form
// (templates/admin/updates/_pictures.html): a preview of each file chosen, a row for
// another picture, and pictures dropped on the form or pasted into the body each put
// into a row of their own, where the alt text waits to be typed. Each picture is uploaded
// as soon as it is chosen, with a progress bar, while the journalist writes
// (desk.upload_picture): the row then carries its token instead of the file, and Post
// waits for no upload. A photo taken with a phone's camera ("Take a photo") goes into a
// row of its own too. static/drafts.js restores rows from a draft ("pictures:restore").
// The form works without it, posting the files themselves.
(function () {
  "use strict";

  var fieldset = document.getElementById("pictures");
  if (!fieldset) return;
  // Words in the page's language, from the scripts' catalog loaded before this script
  // (views.script_strings); as written here should it have failed to load.
  var gettext = window.gettext || function (text) { return text; };
  var form = fieldset.closest("form");
  var template = document.getElementById("picture-template");
  var total = fieldset.querySelector("input[name$='-TOTAL_FORMS']");
  var most = Number(fieldset.querySelector("input[name$='-MAX_NUM_FORMS']").value);

  function rows() {
    return Array.prototype.slice.call(fieldset.querySelectorAll(".pictures__row"));
  }

  function fileInput(row) {
    return row.querySelector("input[type=file]");
  }

  var uploadUrl = fieldset.dataset.uploadUrl;
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var uploading = [];

  function watch(row) {
    fileInput(row).addEventListener("change", function () {
      chosen(row, fileInput(row).files[0]);
    });
  }

  function chosen(row, file) {
    showChosen(row, file);
    if (file) upload(row, file);
  }

  // What was chosen, from the browser's memory: nothing is sent before Post.
  function showChosen(row, file) {
    var shown = row.querySelector(".pictures__chosen");
    if (shown) {
      URL.revokeObjectURL(shown.src);
      shown.remove();
    }
    if (!file) return;
    shown = document.createElement("img");
    shown.className = "pictures__chosen pictures__thumbnail";
    shown.alt = "";
    shown.width = 120;
    shown.src = URL.createObjectURL(file);
    row.insertBefore(shown, row.firstChild);
  }

  function status(row, text, isError) {
    var line = row.querySelector(".pictures__status");
    if (!line) {
      line = document.createElement("p");
      line.className = "pictures__status";
      line.setAttribute("role", "status");
      fileInput(row).parentNode.appendChild(line);
    }
    line.textContent = text;
    line.classList.toggle("errornote", Boolean(isError));
    return line;
  }

  // Stored now, so that posting waits for nothing: the row keeps the token the server
  // signed for it and lets go of the file. If the upload fails for the network's sake,
  // the file stays chosen and goes with the post.
  function upload(row, file) {
    var token = row.querySelector("input[name$='-uploaded']");
    token.value = "";
    var bar = row.querySelector(".pictures__progress") || document.createElement("progress");
    bar.className = "pictures__progress";
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", gettext("Upload of") + " " + file.name);
    fileInput(row).parentNode.appendChild(bar);
    status(row, gettext("Uploading…"));
    var body = new FormData();
    body.append("file", file);
    var request = new XMLHttpRequest();
    var done = new Promise(function (resolve) {
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
      });
      request.addEventListener("loadend", function () {
        var answer = null;
        try {
          answer = JSON.parse(request.responseText);
        } catch (error) {
          answer = null;
        }
        if (request.status === 200 && answer && answer.token) {
          bar.value = 100;
          token.value = answer.token;
          fileInput(row).value = "";
          // The server's own rendition: upright and stripped, as readers will see it.
          showStored(row, answer.thumbnail);
          status(row, gettext("Uploaded: it goes out with the post."));
          // For the draft (static/drafts.js): the token is now part of what was typed.
          token.dispatchEvent(new Event("change", { bubbles: true }));
        } else if (request.status === 400 && answer && answer.error) {
          fileInput(row).value = "";
          showChosen(row, null);
          bar.remove();
          status(row, answer.error, true);
        } else {
          bar.remove();
          status(row, gettext("Not uploaded yet: it will go with the post."));
        }
        resolve();
      });
    });
    uploading.push(done);
    done.then(function () {
      uploading.splice(uploading.indexOf(done), 1);
    });
    request.open("POST", uploadUrl);
    request.setRequestHeader("X-CSRFToken", csrfToken);
    request.setRequestHeader("Accept", "application/json");
    request.timeout = 120000;
    request.send(body);
  }

  function showStored(row, address) {
    var shown = row.querySelector(".pictures__chosen") || document.createElement("img");
    if (shown.src.indexOf("blob:") === 0) URL.revokeObjectURL(shown.src);
    shown.className = "pictures__chosen pictures__thumbnail";
    shown.alt = "";
    shown.width = 120;
    shown.src = address;
    row.insertBefore(shown, row.firstChild);
  }

  // Post waits for the uploads under way, then posts their tokens instead of the files.
  form.addEventListener("submit", function (event) {
    if (!uploading.length) return;
    event.preventDefault();
    var submitter = event.submitter;
    Promise.all(uploading.slice()).then(function () {
      form.requestSubmit(submitter);
    });
  });

  function addRow() {
    var number = Number(total.value);
    if (number >= most) return null;
    template.insertAdjacentHTML("beforebegin", template.innerHTML.replace(/__prefix__/g, String(number)));
    total.value = String(number + 1);
    var row = rows()[rows().length - 1];
    watch(row);
    return row;
  }

  // The first row with no picture chosen, uploaded or of the entry's, or a new one.
  function freeRow() {
    var free = rows().filter(function (row) {
      var taken = row.querySelectorAll("input[name$='-kept'], input[name$='-uploaded']");
      var hasOne = Array.prototype.some.call(taken, function (input) {
        return input.value;
      });
      return !fileInput(row).files.length && !hasOne;
    });
    return free[0] || addRow();
  }

  function put(file) {
    var row = freeRow();
    if (!row) return;
    var picked = new DataTransfer();
    picked.items.add(file);
    fileInput(row).files = picked.files;
    chosen(row, file);
    row.querySelector("input[name$='-alt']").focus();
  }

  function pictures(files) {
    return Array.prototype.filter.call(files || [], function (file) {
      return file.type.indexOf("image/") === 0;
    });
  }

  // The rows as a draft had them (static/drafts.js): each row's words, and the picture
  // it uploaded or kept, shown by the thumbnail the draft noted. Files not uploaded are
  // not in a draft. Rows beyond the draft's are emptied.
  function restore(saved) {
    while (rows().length < saved.length && addRow());
    rows().forEach(function (row, number) {
      var values = saved[number] || {};
      row.querySelectorAll("input[name^='pictures-'], textarea[name^='pictures-']").forEach(function (input) {
        var name = input.name.replace(/^pictures-\d+-/, "");
        if (input.type === "file") input.value = "";
        else if (input.type === "checkbox") input.checked = Boolean(values[name]);
        else input.value = values[name] || "";
      });
      showChosen(row, null);
      var bar = row.querySelector(".pictures__progress");
      if (bar) bar.remove();
      var line = row.querySelector(".pictures__status");
      if (line) line.remove();
      var served = row.querySelector(".pictures__thumbnail:not(.pictures__chosen)");
      var other = !served || served.getAttribute("src") !== values.thumbnail;
      if (values.thumbnail && (values.uploaded || other)) showStored(row, values.thumbnail);
      if (values.uploaded) status(row, gettext("Uploaded: it goes out with the post."));
    });
  }
  fieldset.addEventListener("pictures:restore", function (event) {
    restore(event.detail || []);
  });

  // The camera's photo, in a row of its own as a dropped picture; the camera's box lets go
  // of it, or the post would carry it twice.
  var camera = document.getElementById("pictures-camera");
  if (camera) {
    camera.addEventListener("change", function () {
      Array.prototype.forEach.call(camera.files, put);
      camera.value = "";
    });
  }

  rows().forEach(watch);
  fieldset.querySelector(".pictures__hint").hidden = false;
  var another = document.createElement("button");
  another.type = "button";
  another.className = "button";
  another.id = "add-picture";
  another.textContent = gettext("Add another picture");
  another.addEventListener("click", function () {
    var row = addRow();
    if (row) fileInput(row).focus();
  });
  fieldset.appendChild(another);

  form.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
      form.classList.add("pictures--dropping");
    }
  });
  form.addEventListener("dragleave", function () {
    form.classList.remove("pictures--dropping");
  });
  form.addEventListener("drop", function (event) {
    form.classList.remove("pictures--dropping");
    var dropped = pictures(event.dataTransfer && event.dataTransfer.files);
    if (!dropped.length) return;
    event.preventDefault();
    dropped.forEach(put);
  });
  // Capturing, before the editor: a pasted picture goes into a row of its own, where it
  // gets its alt text and its renditions, not into the text.
  form.addEventListener(
    "paste",
    function (event) {
      var pasted = pictures(event.clipboardData && event.clipboardData.files);
      if (!pasted.length) return;
      event.preventDefault();
      event.stopPropagation();
      pasted.forEach(put);
    },
    true
  );
})();
