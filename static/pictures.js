// The pictures of the post form, on the desk and the admin's change form
// (templates/admin/updates/_pictures.html): a preview of each file chosen, a row for
// another picture, and pictures dropped on the form or pasted into the body each put
// into a row of their own, where the alt text waits to be typed. The form works without it.
(function () {
  "use strict";

  var fieldset = document.getElementById("pictures");
  if (!fieldset) return;
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

  function watch(row) {
    fileInput(row).addEventListener("change", function () {
      showChosen(row, fileInput(row).files[0]);
    });
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

  function addRow() {
    var number = Number(total.value);
    if (number >= most) return null;
    template.insertAdjacentHTML("beforebegin", template.innerHTML.replace(/__prefix__/g, String(number)));
    total.value = String(number + 1);
    var row = rows()[rows().length - 1];
    watch(row);
    return row;
  }

  // The first row with neither a file chosen nor a picture of the entry's, or a new one.
  function freeRow() {
    var free = rows().filter(function (row) {
      var kept = row.querySelector("input[name$='-kept']");
      return !fileInput(row).files.length && !(kept && kept.value);
    });
    return free[0] || addRow();
  }

  function put(file) {
    var row = freeRow();
    if (!row) return;
    var chosen = new DataTransfer();
    chosen.items.add(file);
    fileInput(row).files = chosen.files;
    showChosen(row, file);
    row.querySelector("input[name$='-alt']").focus();
  }

  function pictures(files) {
    return Array.prototype.filter.call(files || [], function (file) {
      return file.type.indexOf("image/") === 0;
    });
  }

  rows().forEach(watch);
  fieldset.querySelector(".pictures__hint").hidden = false;
  var another = document.createElement("button");
  another.type = "button";
  another.className = "button";
  another.id = "add-picture";
  another.textContent = "Add another picture";
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
