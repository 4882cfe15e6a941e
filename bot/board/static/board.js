// The referral unit's board: counts down each urgent case's time left every second, and fetches
// the board afresh every data-refresh seconds without reloading the page. No inline script (CSP).
(function () {
  "use strict";
  var offset = 0; // the server's now minus this browser's, so the countdown runs on the board's clock

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function shown(ms) {
    var whole = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var text = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
    return ms > 0 ? text + " left" : text + " overdue";
  }

  function sync() {
    var stamp = document.querySelector("[data-now]");
    if (stamp) { offset = Date.parse(stamp.getAttribute("data-now")) - Date.now(); }
  }

  function tick() {
    var now = Date.now() + offset;
    var counters = document.querySelectorAll(".countdown");
    for (var i = 0; i < counters.length; i++) {
      var ms = Date.parse(counters[i].getAttribute("data-due")) - now;
      counters[i].textContent = shown(ms);
      var row = counters[i].closest("tr");
      if (row) { row.classList.toggle("overdue", ms <= 0); }
    }
  }

  function refresh() {
    fetch("/fragment", { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        document.getElementById("board").innerHTML = html;
        document.body.classList.remove("stale");
        sync();
        tick();
      })
      .catch(function () { document.body.classList.add("stale"); });
  }

  function start() {
    sync();
    tick();
    setInterval(tick, 1000);
    var every = Number(document.body.getAttribute("data-refresh")) || 30;
    setInterval(refresh, every * 1000);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
