// Live parts of the console: an element with data-poll="<url>" is refreshed from that
// url every data-every seconds, without reloading the page. A part the user is working
// in (focus inside it: a picker open) is left alone until they leave it.
(function () {
  "use strict";
  function poll(box) {
    var every = Math.max(1, Number(box.getAttribute("data-every") || 5)) * 1000;
    window.setInterval(function () {
      if (box.contains(document.activeElement) || document.hidden) { return; }
      fetch(box.getAttribute("data-poll"), {credentials: "same-origin"})
        .then(function (response) {
          // Signed out meanwhile: the console answers with the login page; keep the view.
          if (!response.ok || response.redirected) { throw new Error("stale"); }
          return response.text();
        })
        .then(function (html) {
          box.innerHTML = html;
          box.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () {});
    }, every);
  }
  // A signature pad: <canvas data-signature="<id of a hidden input>">. Pointer events
  // serve a finger, a stylus and a mouse alike; the drawing goes into the input as a PNG
  // data URL when each stroke ends, and a button data-clear="<canvas id>" starts again.
  function signature(canvas) {
    var input = document.getElementById(canvas.getAttribute("data-signature"));
    var pen = canvas.getContext("2d");
    var drawing = false;
    pen.lineWidth = 2.5; pen.lineCap = "round"; pen.lineJoin = "round"; pen.strokeStyle = "#111";
    function at(event) {
      var box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width,
              (event.clientY - box.top) * canvas.height / box.height];
    }
    canvas.addEventListener("pointerdown", function (event) {
      var point = at(event);
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      pen.beginPath(); pen.moveTo(point[0], point[1]);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var point = at(event);
      pen.lineTo(point[0], point[1]); pen.stroke();
      event.preventDefault();
    });
    function end() {
      if (!drawing) { return; }
      drawing = false;
      input.value = canvas.toDataURL("image/png");
      canvas.setAttribute("data-signed", "true");
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    var clear = document.querySelector("[data-clear='" + canvas.id + "']");
    if (clear) {
      clear.addEventListener("click", function () {
        pen.clearRect(0, 0, canvas.width, canvas.height);
        input.value = "";
        canvas.removeAttribute("data-signed");
      });
    }
  }
  // A photo: <input type=file data-photo="<id of a hidden input>">. The picture is made
  // small on the phone (at most 320 px, JPEG) so it fits the API's bound, and shown.
  var PHOTO_SIDE = 320, PHOTO_MAX_CHARS = 16000;  // 12 KB once decoded from base64
  function photo(field) {
    var input = document.getElementById(field.getAttribute("data-photo"));
    var preview = document.getElementById(input.id + "-preview");
    field.addEventListener("change", function () {
      if (!field.files || !field.files[0]) { return; }
      var reader = new FileReader();
      reader.onload = function () {
        var picture = new Image();
        picture.onload = function () {
          var scale = Math.min(1, PHOTO_SIDE / Math.max(picture.width, picture.height));
          var canvas = document.createElement("canvas");
          canvas.width = Math.round(picture.width * scale);
          canvas.height = Math.round(picture.height * scale);
          canvas.getContext("2d").drawImage(picture, 0, 0, canvas.width, canvas.height);
          var quality = 0.8, small = canvas.toDataURL("image/jpeg", quality);
          while (small.length > PHOTO_MAX_CHARS && quality > 0.2) {
            quality -= 0.15;
            small = canvas.toDataURL("image/jpeg", quality);
          }
          input.value = small;
          preview.src = small;
          preview.hidden = false;
        };
        picture.src = reader.result;
      };
      reader.readAsDataURL(field.files[0]);
    });
  }
  // The schedule board: a visit (div.visit[draggable]) dropped on an hour of its own
  // technician's row is moved there, on another technician's row reassigned to them —
  // through the same forms as the pickers, so the API decides and the page reloads with
  // its answer. A drop where neither form applies does nothing.
  function schedule(board) {
    var dragged = null;
    board.addEventListener("dragstart", function (event) {
      dragged = event.target.closest && event.target.closest(".visit[draggable]");
      if (!dragged) { return; }
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-order"));
      event.dataTransfer.effectAllowed = "move";
      dragged.classList.add("dragging");
    });
    board.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); }
      dragged = null;
    });
    function target(event) {
      var cell = event.target.closest && event.target.closest("td[data-hour]");
      return dragged && cell ? cell : null;
    }
    board.addEventListener("dragover", function (event) {
      if (target(event)) { event.preventDefault(); event.dataTransfer.dropEffect = "move"; }
    });
    board.addEventListener("drop", function (event) {
      var cell = target(event);
      if (!cell) { return; }
      event.preventDefault();
      var own = dragged.closest("tr").getAttribute("data-technician");
      var to = cell.closest("tr").getAttribute("data-technician");
      var form = dragged.querySelector(to === own ? "form.move" : "form.reassign");
      if (!form) { return; }
      var field = form.querySelector(to === own ? "select[name=hour]" : "select[name=technician_id]");
      field.value = to === own ? cell.getAttribute("data-hour") : to;
      if (field.value && form.requestSubmit) { form.requestSubmit(); } else if (field.value) { form.submit(); }
    });
  }
  // The customer file as the agent types: <div data-lookup="<url>" data-lookup-from="<id
  // of the phone input">. Once 7 digits are in (the API's minimum), the fragment for the
  // phone is fetched after a short pause in typing; the answer to an older phone is dropped.
  var LOOKUP_DIGITS = 7, LOOKUP_PAUSE_MS = 300;
  function lookup(box) {
    var input = document.getElementById(box.getAttribute("data-lookup-from"));
    if (!input) { return; }
    var hint = box.innerHTML, asked = "", timer = null;
    function ask() {
      var phone = input.value.trim(), digits = phone.replace(/[^0-9]/g, "");
      if (digits.length < LOOKUP_DIGITS) { asked = ""; box.innerHTML = hint; return; }
      if (digits === asked) { return; }
      asked = digits;
      fetch(box.getAttribute("data-lookup") + "?phone=" + encodeURIComponent(phone),
            {credentials: "same-origin"})
        .then(function (response) {
          if (response.redirected) { throw new Error("signed out"); }
          return response.text();
        })
        .then(function (html) {
          if (asked !== digits) { return; }
          box.innerHTML = html;
          box.setAttribute("data-looked-up", digits);
        })
        .catch(function () {});
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, LOOKUP_PAUSE_MS);
    });
    ask();
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.schedule"), schedule);
    Array.prototype.forEach.call(document.querySelectorAll("[data-lookup]"), lookup);
    Array.prototype.forEach.call(document.querySelectorAll("input[data-photo]"), photo);
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-signature]"), signature);
  });
}());
