// The phone page: digits only in the password box, and focus it when an order is shown.
(function () {
  "use strict";
  var pw = document.getElementById("password");
  if (!pw) return;
  pw.addEventListener("input", function () {
    pw.value = pw.value.replace(/[^0-9]/g, "").slice(0, 6);
  });
  pw.focus();
})();
