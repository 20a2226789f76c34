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
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), poll);
  });
}());
