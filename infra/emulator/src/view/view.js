// Follows a running execution: its body is fetched again every half second while it
// runs, and the panels that were open stay open.
(function () {
  function running() {
    var status = document.getElementById("execution-status");
    return status && /executing|stopping/i.test(status.textContent);
  }
  function refresh() {
    if (!running()) { return; }
    var open = Array.prototype.map.call(document.querySelectorAll("details[open]"), function (d) { return d.id; });
    fetch(location.pathname + (location.pathname.indexOf("?") < 0 ? "?" : "&") + "body=1", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          var focus = document.activeElement && document.activeElement.name;
          if (focus) { setTimeout(refresh, 500); return; }
          document.body.querySelector("#content").innerHTML = html;
          open.forEach(function (id) { var d = document.getElementById(id); if (d) { d.open = true; } });
        }
        setTimeout(refresh, 500);
      })
      .catch(function () { setTimeout(refresh, 1000); });
  }
  setTimeout(refresh, 500);
})();
