// Live refresh of the callback grid: the page is fetched again in the
// background (without extending the idle session) and the grid replaced,
// unless the user has rows selected. Everything inserted comes from the
// server's escaped HTML.
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  if (!grid || !grid.dataset.live) { return; }
  var every = parseInt(grid.dataset.live, 10) * 1000;
  setInterval(function () {
    if (document.querySelector("input.pick:checked")) { return; }
    fetch(location.href, { headers: { "X-GES-Poll": "1" }, credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { location.href = r.headers.get("X-GES-Login") || "/ges/login?expired=1"; return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("grid");
      var cur = document.getElementById("grid");
      if (fresh && cur) { cur.replaceWith(document.importNode(fresh, true)); }
    }).catch(function () {});
  }, every);
})();
