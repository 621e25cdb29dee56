/* Upload: preview, the browser's position in hidden fields, a progress bar, and an upload id
   made once per page so a retried send never creates a second submission. */
(function () {
  var form = document.getElementById("upload-form");
  if (!form) return;
  window.sightlineCountdown();
  var input = form.elements.photo;
  var preview = document.getElementById("preview");
  var progress = document.getElementById("progress");
  var button = document.getElementById("upload-button");
  var geoStatus = document.getElementById("geo-status");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }
  if (!form.elements.upload_id.value) form.elements.upload_id.value = uuid4();

  function megabytes(size) { return (size / 1048576).toFixed(1).replace(/\.0$/, "") + " MB"; }
  function tooLarge(size) {
    return "The file is " + megabytes(size) + "; the limit is " + megabytes(maxBytes) + ".";
  }

  function showErrors(errors) {
    var general = (errors.__all__ || []).slice();
    Object.keys(errors).forEach(function (name) {  /* hidden fields have no place of their own */
      if (name !== "__all__" && !form.querySelector('[data-error-for="' + name + '"]')) {
        general = general.concat(errors[name]);
      }
    });
    errors = Object.assign({}, errors, { __all__: general });
    form.querySelectorAll("[data-error-for]").forEach(function (element) {
      var list = errors[element.dataset.errorFor] || [];
      element.textContent = list.map(function (e) { return e.message || e; }).join(" ");
      element.hidden = list.length === 0;
    });
    var first = form.querySelector("[data-error-for]:not([hidden])");
    if (first) first.scrollIntoView({ block: "center" });
  }

  if ("geolocation" in navigator) {
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(6);
        form.elements.lon.value = position.coords.longitude.toFixed(6);
        form.elements.accuracy_m.value = Math.round(position.coords.accuracy);
        geoStatus.textContent = "Your position (±" + Math.round(position.coords.accuracy) + " m) will be attached.";
      },
      function () { geoStatus.textContent = "Your position is not attached: the photo's own GPS must show where it was taken."; },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 }
    );
  }

  preview.addEventListener("error", function () { preview.hidden = true; });

  input.addEventListener("change", function () {
    showErrors({});
    var file = input.files[0];
    if (!file) { preview.hidden = true; return; }
    if (file.size > maxBytes) {
      showErrors({ photo: [tooLarge(file.size)] });
      preview.hidden = true;
      return;
    }
    if (/^image\/(jpeg|png|webp)$/.test(file.type)) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
    } else {
      preview.hidden = true;  /* HEIC: most browsers cannot draw it; the server reads it */
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = input.files[0];
    if (!file) { showErrors({ photo: ["Choose or take a photo."] }); return; }
    if (file.size > maxBytes) {
      showErrors({ photo: [tooLarge(file.size)] });
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (xhr.status < 300 && body.redirect) { window.location.assign(body.redirect); return; }
      progress.hidden = true;
      var errors = body.errors || { __all__: ["The upload failed (" + xhr.status + "). Try again: it will not be sent twice."] };
      showErrors(errors);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progress.hidden = true;
      showErrors({ __all__: ["The connection dropped. Press Send again: the photo will not be sent twice."] });
    });
    showErrors({});
    progress.value = 0;
    progress.hidden = false;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
