// Every page of the console: a card whose table is wider than the screen scrolls sideways
// inside the card; such a card becomes focusable (and named by its heading) so a keyboard
// user can scroll it too. Re-checked when the window changes size.
(function () {
  "use strict";
  function mark() {
    var panels = document.querySelectorAll(".panel, .bill-scroll");
    for (var i = 0; i < panels.length; i++) {
      var p = panels[i];
      if (p.scrollWidth > p.clientWidth + 1) {
        p.setAttribute("tabindex", "0");
        p.setAttribute("role", "region");
        var h = p.querySelector("h2, h3");
        p.setAttribute("aria-label", h ? h.textContent.trim() : "table");
      } else if (p.getAttribute("role") === "region") {
        p.removeAttribute("tabindex");
        p.removeAttribute("role");
        p.removeAttribute("aria-label");
      }
    }
  }
  mark();
  window.addEventListener("resize", mark);
})();
