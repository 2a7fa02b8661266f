// DealerNet portal scripts: photo gallery and the window sticker button.
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // Gallery: clicking a thumbnail shows it as the main photo.
  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest(".thumb-photo");
    if (!t) return;
    var main = document.getElementById("main-photo");
    if (!main) return;
    var src = main.getAttribute("src");
    main.setAttribute("src", t.getAttribute("src"));
    t.setAttribute("src", src);
  });

  // Window sticker in "prepare" mode: POST to prepare it, then navigate to
  // the sticker URL. In the other modes the button is a plain link.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("#window-sticker[data-prepare-url]");
    if (!btn) return;
    e.preventDefault();
    if (btn.disabled) return;
    var status = document.getElementById("sticker-status");
    btn.disabled = true;
    if (status) status.textContent = "Preparing window sticker…";
    fetch(btn.getAttribute("data-prepare-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" }
    }).then(function (res) {
      if (!res.ok) throw new Error("prepare failed: HTTP " + res.status);
      return res.json();
    }).then(function (data) {
      if (status) status.textContent = "Downloading…";
      window.location.href = data.url || btn.getAttribute("data-sticker-url");
    }).catch(function (err) {
      if (status) status.textContent = "Could not prepare the window sticker. Please try again.";
      if (window.console) console.error(err);
    }).finally(function () {
      btn.disabled = false;
    });
  });

  // Inventory rows: the whole row opens the vehicle.
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("a, button")) return;
    var row = e.target.closest && e.target.closest("#inventory tbody tr");
    if (!row) return;
    var a = row.querySelector("a.vehicle");
    if (a) window.location.href = a.getAttribute("href");
  });
})();
