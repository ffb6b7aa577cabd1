// The phone pages: digits only in the password box, focus it when an order is shown, and on
// the H5 cashier offer only the cards of the payer chosen (the server checks the card anyway).
(function () {
  "use strict";
  var form = document.getElementById("h5-form");
  if (form) {
    var owners = form.querySelectorAll("[data-owner]");
    var show = function () {
      var chosen = form.querySelector('input[name="payer_id"]:checked');
      var who = chosen ? chosen.value : "";
      for (var i = 0; i < owners.length; i++) {
        var mine = owners[i].getAttribute("data-owner") === who;
        owners[i].style.display = mine ? "" : "none"; // .method sets display: hidden would lose
        var radio = owners[i].querySelector("input");
        if (!mine && radio.checked) {
          radio.checked = false;
          form.querySelector('input[name="method"][value="wallet"]').checked = true;
        }
      }
    };
    var payers = form.querySelectorAll('input[name="payer_id"]');
    for (var j = 0; j < payers.length; j++) payers[j].addEventListener("change", show);
    show();
  }
  var pw = document.getElementById("password");
  if (!pw) return;
  pw.addEventListener("input", function () {
    pw.value = pw.value.replace(/[^0-9]/g, "").slice(0, 6);
  });
  pw.focus();
})();
