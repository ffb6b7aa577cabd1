// APP pay: offer only the chosen payer's cards (the server checks the card is theirs anyway).
(function () {
  "use strict";
  var form = document.getElementById("app-form");
  var select = document.getElementById("method");
  if (!form || !select) return;
  function sync() {
    var chosen = form.querySelector('input[name="payer_id"]:checked');
    var who = chosen ? chosen.value : "";
    Array.prototype.forEach.call(select.options, function (o) {
      var owner = o.getAttribute("data-payer-id");
      o.hidden = o.disabled = owner !== null && owner !== who;
    });
    if (select.selectedOptions.length && select.selectedOptions[0].disabled) select.value = "wallet";
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "payer_id") sync();
  });
  sync();
})();
