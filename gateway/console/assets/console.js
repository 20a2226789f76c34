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
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-signature]"), signature);
  });
}());
