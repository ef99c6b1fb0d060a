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

// Selection of the callback grid: the bulk bar counts the rows picked,
// "select all" picks every cancellable row of the page, and bulk cancel
// is disabled while nothing is picked. Delegated, so it keeps working
// after the live refresh replaced the grid.
(function () {
  "use strict";
  var bar = document.getElementById("bulk-bar");
  if (!bar) { return; }
  function update() {
    var picks = document.querySelectorAll("input.pick");
    var n = document.querySelectorAll("input.pick:checked").length;
    document.getElementById("selected-count").textContent = n + " selected";
    document.getElementById("bulk-cancel").disabled = n === 0;
    var all = document.getElementById("pick-all");
    if (all) {
      all.checked = picks.length > 0 && n === picks.length;
      all.indeterminate = n > 0 && n < picks.length;
      all.disabled = picks.length === 0;
    }
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.id === "pick-all") {
      document.querySelectorAll("input.pick").forEach(function (p) { p.checked = t.checked; });
    }
    if (t.id === "pick-all" || t.classList.contains("pick")) { update(); }
  });
  new MutationObserver(update).observe(document.querySelector("main"), { childList: true });
  update();
})();

// Confirmation of destructive actions: a form with data-confirm is sent
// only after its question was answered yes in a modal <dialog> (never
// window.confirm); no, Escape or closing keeps everything as it was. The
// bulk cancel names how many callbacks are selected.
(function () {
  "use strict";
  var dlg = null, pending = null;
  function dialog() {
    if (dlg) { return dlg; }
    dlg = document.createElement("dialog");
    dlg.id = "confirm-dialog";
    dlg.className = "confirm";
    dlg.setAttribute("aria-labelledby", "confirm-text");
    dlg.innerHTML = '<p id="confirm-text"></p><div class="confirm-buttons">' +
      '<button type="button" id="confirm-no"></button> <button type="button" id="confirm-yes" class="primary danger-fill"></button></div>';
    document.body.appendChild(dlg);
    // The answer is taken at the click, not in the close event: that
    // event comes a task later, and a question asked again quickly
    // (no, then delete again) would otherwise meet the close of the one
    // before and lose its form. No, Escape or closing just closes.
    dlg.querySelector("#confirm-no").addEventListener("click", function () { pending = null; dlg.close("no"); });
    dlg.querySelector("#confirm-yes").addEventListener("click", function () {
      var p = pending;
      pending = null;
      dlg.close("yes");
      if (p) {
        p.form.dataset.confirmed = "1";
        p.form.requestSubmit(p.submitter || undefined);
      }
    });
    return dlg;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.dataset || !form.dataset.confirm) { return; }
    if (form.dataset.confirmed) { delete form.dataset.confirmed; return; }
    e.preventDefault();
    var text = form.dataset.confirm;
    if (form.getAttribute("id") === "bulk") { // not form.id: its inputs are named id
      var n = document.querySelectorAll("input.pick:checked").length;
      text = "Cancel " + n + (n === 1 ? " selected callback?" : " selected callbacks?") + " The customers will not be called.";
    }
    var d = dialog();
    d.querySelector("#confirm-text").textContent = text;
    d.querySelector("#confirm-yes").textContent = form.dataset.yes || "Yes";
    d.querySelector("#confirm-no").textContent = form.dataset.no || "No";
    pending = { form: form, submitter: e.submitter };
    d.showModal();
    d.querySelector("#confirm-no").focus();
  });
})();

// Display zone: the "my browser's zone" choice gets the browser's IANA
// zone; choosing a zone reloads the page with ?tz= (the server remembers
// it in a cookie).
(function () {
  "use strict";
  var sel = document.getElementById("tz");
  if (!sel) { return; }
  var mine = "";
  try { mine = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { mine = ""; }
  var opt = document.getElementById("tz-browser");
  if (opt && mine) {
    opt.value = mine;
    opt.disabled = false;
    opt.textContent = "my browser's zone (" + mine + ")";
  }
  sel.addEventListener("change", function () {
    if (sel.value) { sel.form.requestSubmit(); }
  });
})();

// The create form's slot grid follows the chosen service: its grid is
// fetched from the server (escaped HTML) and the zone label updated.
(function () {
  "use strict";
  var svc = document.getElementById("c-service");
  if (!svc) { return; }
  svc.addEventListener("change", function () {
    var o = svc.options[svc.selectedIndex];
    var zone = document.getElementById("c-zone");
    if (zone && o && o.dataset.zone) { zone.textContent = o.dataset.zone; }
    var cur = document.querySelector("#create #slots");
    if (!cur) { return; }
    fetch("/ges/callbacks/slots?service=" + encodeURIComponent(svc.value), { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) { return; }
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("slots");
      var now = document.querySelector("#create #slots");
      if (fresh && now) { now.replaceWith(document.importNode(fresh, true)); }
    }).catch(function () {});
  });
})();

// Details side panel of the grid: a click on a row's id opens the
// callback's details beside the grid (the callback page's #cb-detail,
// fetched; its ids get a "panel-" prefix so they stay unique). Escape or
// Close closes it and gives the focus back to the link. A modified click
// (new tab) and a browser without script follow the link.
(function () {
  "use strict";
  if (!document.getElementById("grid")) { return; }
  var panel = null, opener = null, openID = "";
  function build() {
    panel = document.createElement("aside");
    panel.id = "side-panel";
    panel.className = "side-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    panel.setAttribute("aria-label", "Callback details");
    panel.hidden = true;
    panel.innerHTML = '<div class="side-bar"><a id="side-full" href="#">Open the full page</a> ' +
      '<button type="button" id="side-close" class="small">Close</button></div><div id="side-body"></div>';
    document.body.appendChild(panel);
    panel.querySelector("#side-close").addEventListener("click", close);
    return panel;
  }
  function prefix(root) {
    var refs = ["aria-labelledby", "aria-describedby", "for", "form"];
    root.querySelectorAll("[id]").forEach(function (el) { el.id = "panel-" + el.id; });
    refs.forEach(function (a) {
      root.querySelectorAll("[" + a + "]").forEach(function (el) {
        el.setAttribute(a, el.getAttribute(a).split(/\s+/).map(function (s) { return s ? "panel-" + s : s; }).join(" "));
      });
    });
  }
  function close() {
    if (!panel || panel.hidden) { return; }
    panel.hidden = true;
    document.body.classList.remove("with-panel");
    var back = opener && document.body.contains(opener) ? opener : document.querySelector("#row-" + openID + " a.cb-link");
    opener = null;
    if (back) { back.focus(); }
  }
  function open(link) {
    var p = panel || build();
    fetch(link.href, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { location.href = r.headers.get("X-GES-Login") || "/ges/login?expired=1"; return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) { location.href = link.href; return; }
      var doc = new DOMParser().parseFromString(html, "text/html");
      var detail = doc.getElementById("cb-detail");
      if (!detail) { location.href = link.href; return; }
      detail.querySelectorAll(".zone-picker").forEach(function (z) { z.remove(); });
      prefix(detail);
      var body = p.querySelector("#side-body");
      body.replaceChildren(document.importNode(detail, true));
      p.querySelector("#side-full").href = link.href;
      opener = link;
      openID = link.closest("tr") ? link.closest("tr").id.replace(/^row-/, "") : "";
      p.hidden = false;
      document.body.classList.add("with-panel");
      var title = p.querySelector("#panel-cb-title");
      (title || p.querySelector("#side-close")).focus();
    }).catch(function () { location.href = link.href; });
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.cb-link");
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) { return; }
    e.preventDefault();
    open(link);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !panel || panel.hidden) { return; }
    if (document.querySelector("dialog[open]")) { return; } // the confirmation closes first
    close();
  });
})();

// Day tabs of a slot picker: the chosen day's slots are fetched (the
// callback page, or the create form's fragment) and swapped in without
// leaving the page; without script the tab is a plain link.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var tab = e.target.closest && e.target.closest("a.slot-tab");
    if (!tab || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) { return; }
    var cur = tab.closest(".slot-picker");
    if (!cur) { return; }
    e.preventDefault();
    var day = tab.dataset.day;
    fetch(tab.dataset.frag || tab.href, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("slots");
      if (!fresh) { location.href = tab.href; return; }
      var node = document.importNode(fresh, true);
      if (cur.id !== "slots") { // inside the details panel: keep its ids apart
        node.querySelectorAll("[id]").forEach(function (el) { el.id = "panel-" + el.id; });
        node.querySelectorAll("[aria-labelledby]").forEach(function (el) { el.setAttribute("aria-labelledby", "panel-" + el.getAttribute("aria-labelledby")); });
        node.id = cur.id;
      }
      cur.replaceWith(node);
      var again = node.querySelector('a.slot-tab[data-day="' + day + '"]');
      if (again) { again.focus(); }
    }).catch(function () { location.href = tab.href; });
  });
})();
