/**
 * @module The console's stylesheet and its one client script, served by the worker from
 * /console/assets/ (no CDN, no inline code: the pages' CSP allows scripts and styles from 'self'
 * only). The script is an island: it wires the copy buttons and the curation page (search, bulk
 * selection on the filtered rows, live exposed names, duplicate flags); every page works without it.
 */

/** Bump when CSS or JS change: it is part of their URLs, which are cached for a day. */
export const ASSET_VERSION = "5";

export const CONSOLE_CSS = `:root{--fg:#16181d;--muted:#555b66;--bg:#fff;--line:#d4d7dd;--accent:#0b57d0;--ok:#146c2e;--warn:#8a5300;--bad:#b3261e;--code:#f3f4f6}
*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--bg);padding:.5rem 1rem;z-index:10}
.skip:focus{left:.5rem}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between;padding:.75rem 1.25rem;border-bottom:1px solid var(--line)}
header.top .brand{font-weight:700;text-decoration:none;color:var(--fg)}
header.top nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0;align-items:center}
main{max-width:64rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.5rem;margin:.25rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.muted{color:var(--muted)}
form.stack{display:grid;gap:1rem;max-width:30rem}
label{display:block;font-weight:600}
.hint{display:block;font-weight:400;color:var(--muted);font-size:.9rem}
input,select{font:inherit;width:100%;padding:.5rem;border:1px solid #767b85;border-radius:6px;background:#fff;color:var(--fg)}
input[aria-invalid=true],select[aria-invalid=true]{border-color:var(--bad)}
.field-error{color:var(--bad);margin:.25rem 0 0;font-size:.95rem}
.alert{border:1px solid var(--bad);color:var(--bad);border-radius:6px;padding:.5rem .75rem}
button,.button{font:inherit;display:inline-block;padding:.5rem 1rem;border-radius:6px;border:1px solid #767b85;background:#fff;color:var(--fg);cursor:pointer;text-decoration:none}
button.primary,.button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.link{border:0;background:none;color:var(--accent);text-decoration:underline;padding:0}
.cards{list-style:none;margin:0;padding:0;display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(18rem,1fr))}
.card{border:1px solid var(--line);border-radius:8px;padding:1rem}
.card h2{margin:0 0 .25rem;font-size:1.1rem}
.badges{display:flex;flex-wrap:wrap;gap:.35rem;margin:.25rem 0 .5rem;padding:0;list-style:none}
.badge{border:1px solid var(--line);border-radius:999px;padding:0 .5rem;font-size:.85rem}
.badge.ok{color:var(--ok);border-color:var(--ok)}
.badge.degraded{color:var(--warn);border-color:var(--warn)}
.badge.open{color:var(--bad);border-color:var(--bad)}
.spark{display:block;width:100%;height:40px}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);border-radius:4px}
code{padding:.1rem .3rem;word-break:break-all}
pre{padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
pre code{padding:0;background:none}
h3{font-size:1rem;margin:0}
.snippet{margin:0 0 1rem}
.snippet .row{justify-content:space-between}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
[role=status]{min-height:1.5rem}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
label.inline{display:inline;font-weight:400}
input[type=checkbox]{width:auto;margin:0 .35rem 0 0}
fieldset{border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;min-width:0}
legend{font-weight:700;padding:0 .25rem}
.attached{list-style:none;padding:0;margin:0 0 1rem}
.attached li{gap:1rem}
form.attach select{width:auto;min-width:12rem}
.tool-filter input[type=search]{flex:1 1 14rem;width:auto}
ul.tools{list-style:none;margin:0;padding:0}
li.tool{border-top:1px solid var(--line);padding:.5rem 0}
li.tool .badges{margin:0}
li.tool .desc{margin:.25rem 0;color:var(--muted);font-size:.95rem}
li.tool .overrides input{flex:1 1 12rem;width:auto;padding:.3rem .5rem}
.badge.destructive{color:var(--bad);border-color:var(--bad)}
.badge.read-only{color:var(--ok);border-color:var(--ok)}
.ok-note{color:var(--ok)}
.save-bar{position:sticky;bottom:0;background:var(--bg);margin:0;padding:.75rem 0;border-top:1px solid var(--line)}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
ul.plain{list-style:none;margin:0;padding:0}
fieldset{border:1px solid var(--line);border-radius:6px;display:grid;gap:.75rem}
legend{font-weight:600;padding:0 .25rem}
.header-row{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
textarea{font:inherit;width:100%;padding:.5rem;border:1px solid #767b85;border-radius:6px;font-family:ui-monospace,monospace}
@media (max-width:40rem){.header-row{grid-template-columns:1fr}}
@media (max-width:40rem){main{padding:1rem .75rem}dl.facts{grid-template-columns:1fr}h1{font-size:1.3rem}}
/* watch */
nav.tabs ul,ul.windows{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0 0 1rem;padding:0}
nav.tabs ul{border-bottom:1px solid var(--line);padding-bottom:.25rem}
nav.tabs a,ul.windows a{display:inline-block;padding:.25rem .5rem;border-radius:6px}
nav.tabs a[aria-current=page],ul.windows a[aria-current=page]{background:var(--accent);color:#fff;text-decoration:none;font-weight:600}
dl.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.75rem;margin:0 0 1rem}
dl.stats div{border:1px solid var(--line);border-radius:8px;padding:.5rem .75rem}
dl.stats dt{color:var(--muted);font-size:.9rem}
dl.stats dd{margin:0;font-size:1.25rem;font-weight:600}
svg.chart{display:block;width:100%;height:auto;max-height:16rem;font-size:13px}
svg.chart text{fill:var(--muted)}
svg.chart .grid{stroke:var(--line);stroke-width:1}
.s-calls{fill:var(--accent);stroke:var(--accent)}
.s-errors{fill:var(--bad);stroke:var(--bad)}
.s-p50{stroke:var(--accent);fill:var(--accent)}
.s-p95{stroke:var(--warn);fill:var(--warn)}
svg.chart polyline{fill:none;stroke-width:2}
ul.legend{display:flex;gap:1rem;list-style:none;margin:.25rem 0 .75rem;padding:0;font-size:.9rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.35rem;vertical-align:-.05rem;background:currentColor}
.swatch.s-calls{color:var(--accent)}.swatch.s-errors{color:var(--bad)}.swatch.s-p50{color:var(--accent)}.swatch.s-p95{color:var(--warn)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.muted td,tr.muted th{color:var(--muted)}
form.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem;align-items:end;margin:0 0 1rem}
code.payload{font-size:.85rem}
.notice{border:1px solid var(--warn);border-radius:6px;padding:.5rem .75rem}
nav.pager{margin:1rem 0;gap:1rem}
details{margin:.5rem 0}
summary{cursor:pointer;color:var(--accent)}
/* health+drift */
ul.items,ul.held{list-style:none;margin:0;padding:0;display:grid;gap:.5rem}
ul.items code{overflow-wrap:anywhere}
li.held-item{border:1px solid var(--line);border-radius:6px;padding:.75rem;display:grid;gap:.5rem}
li.held-item h2{font-size:1.05rem;margin:0;overflow-wrap:anywhere}
table.diff td,table.diff th{vertical-align:top;overflow-wrap:anywhere}
table.diff del{color:var(--bad)}
table.diff ins{color:var(--ok);text-decoration:none}
.health-result{margin:1rem 0}
`;

export const CONSOLE_JS = `"use strict";
(function () {
  var status = document.getElementById("copy-status");
  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("button[data-copy]") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy") || "";
    var say = function (message) { if (status) status.textContent = message; };
    if (!navigator.clipboard) { say("Copying is not available here: select the text instead."); return; }
    navigator.clipboard.writeText(text).then(
      function () { say("Copied " + (button.getAttribute("data-label") || "") + " to the clipboard."); },
      function () { say("Could not copy: select the text instead."); }
    );
  });
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  curation(document.getElementById("curation"));

  // The curation form: search filters the rows, bulk buttons act on the rows shown, the exposed
  // name follows the rename field, and exposed names used twice are flagged.
  function curation(form) {
    if (!form) return;
    var prefix = form.getAttribute("data-prefix") || "";
    var rows = Array.prototype.slice.call(form.querySelectorAll("li.tool"));
    var all = document.getElementById("all-tools");
    var search = document.getElementById("tool-search");
    var count = document.getElementById("tool-count");
    var box = function (row) { return row.querySelector("input[type=checkbox]"); };
    var rename = function (row) { return row.querySelector("input[name^='rn:']"); };
    var text = rows.map(function (row) {
      var d = row.querySelector(".desc");
      return (row.getAttribute("data-name") + " " + (d ? d.textContent : "")).toLowerCase();
    });
    var visible = function () { return rows.filter(function (row) { return !row.hidden; }); };
    function exposed(row) {
      var r = rename(row).value.trim();
      return r || prefix + row.getAttribute("data-name");
    }
    function refresh() {
      var seen = {};
      var selected = 0;
      rows.forEach(function (row) {
        row.querySelector("code.exposed").textContent = exposed(row);
        if (all.checked || box(row).checked) {
          selected++;
          var n = exposed(row);
          seen[n] = (seen[n] || 0) + 1;
        }
      });
      var dups = 0;
      rows.forEach(function (row) {
        var flag = row.querySelector(".dup");
        var n = exposed(row);
        var dup = (all.checked || box(row).checked) && seen[n] > 1;
        if (dup) dups++;
        flag.hidden = !dup;
        flag.textContent = dup ? "Another selected tool here is also exposed as " + n + ": rename one." : "";
      });
      rows.forEach(function (row) { box(row).disabled = all.checked; });
      count.textContent = visible().length + " of " + rows.length + " tools shown, " + selected + " selected" +
        (dups ? ", " + dups + " with a duplicate exposed name" : "") + ".";
    }
    function filter() {
      var q = search.value.trim().toLowerCase();
      rows.forEach(function (row, i) { row.hidden = q !== "" && text[i].indexOf(q) < 0; });
      refresh();
    }
    form.querySelector(".tool-filter").hidden = false;
    search.addEventListener("input", filter);
    form.addEventListener("input", function (event) {
      if (event.target !== search) refresh();
    });
    form.addEventListener("change", refresh);
    form.addEventListener("click", function (event) {
      var b = event.target && event.target.closest ? event.target.closest("button[data-bulk]") : null;
      if (!b) return;
      var how = b.getAttribute("data-bulk");
      if (all.checked) all.checked = false;
      visible().forEach(function (row) {
        var c = box(row);
        c.checked = how === "all" ? true : how === "none" ? false : !c.checked;
      });
      refresh();
    });
    // Enter in the search box filters; it does not submit the form.
    search.addEventListener("keydown", function (event) { if (event.key === "Enter") event.preventDefault(); });
    refresh();
  }
})();
`;
