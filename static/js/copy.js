/* Copy buttons: data-copy="#selector" copies that input's value. */
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var input = document.querySelector(button.dataset.copy);
    var status = button.parentElement.querySelector("[data-copy-status]");
    function done(ok) { if (status) status.textContent = ok ? "Copied." : "Select the key and copy it."; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () { done(false); });
    } else {
      input.select();
      done(document.execCommand("copy"));
    }
  });
});
