"use strict";
// report.html's script: sorts the field table, draws the sampled
// documents from the JSON block, filters them by class and id. It sets
// every value with textContent, never as markup, so a document holding
// markup is shown, not run.
(function () {
  document.body.setAttribute("data-js", "on");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Field table: a button in each sortable heading; numbers sort
  // largest first, text A to Z; a second click reverses.
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.tHead.rows[0].cells;
    for (let i = 0; i < heads.length; i++) {
      const th = heads[i];
      const kind = th.getAttribute("data-sort");
      if (!kind) continue;
      const b = el("button", "sort", th.textContent);
      b.type = "button";
      th.textContent = "";
      th.appendChild(b);
      b.addEventListener("click", function () {
        let dir = kind === "num" ? -1 : 1;
        const now = th.getAttribute("aria-sort");
        if (now) dir = now === "ascending" ? -1 : 1;
        for (const h of heads) h.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const key = function (r) {
          const v = r.cells[i].getAttribute("data-v") || "";
          return kind === "num" ? Number(v) : v;
        };
        rows.sort(function (a, b) {
          const x = key(a), y = key(b);
          if (x < y) return -dir;
          if (x > y) return dir;
          return 0;
        });
        for (const r of rows) body.appendChild(r);
      });
    }
  }

  const block = document.getElementById("page-data");
  const list = document.getElementById("doc-list");
  if (!block || !list) return;
  const data = JSON.parse(block.textContent);
  const classes = {};
  for (const c of data.classes) classes[c.name] = c;
  const controls = document.getElementById("doc-controls");
  const filter = document.getElementById("doc-filter");
  const search = document.getElementById("doc-search");
  const status = document.getElementById("doc-status");
  controls.hidden = false;

  let current = "all";
  const buttons = [];
  // select shows one class ("all", a diff class, or "watched": the
  // lines naming a --watch path).
  function select(name) {
    current = name;
    for (const x of buttons) x.setAttribute("aria-pressed", String(x.getAttribute("data-class") === name));
    draw(true);
  }
  function addButton(name, label) {
    const b = el("button", "", label);
    b.type = "button";
    b.setAttribute("data-class", name);
    b.setAttribute("aria-pressed", String(name === current));
    b.addEventListener("click", function () {
      select(name);
    });
    buttons.push(b);
    filter.appendChild(b);
  }
  addButton("all", "all (" + data.docs.length + " shown)");
  for (const c of data.classes) {
    if (c.total > 0) addButton(c.name, c.symbol + " " + c.label + " (" + c.total.toLocaleString("en-US") + ")");
  }
  const watchedKept = data.docs.filter(function (d) { return d.w && d.w.length; }).length;
  if (data.watched || watchedKept > 0) addButton("watched", "◉ watched (" + watchedKept + " shown)");
  search.addEventListener("input", draw);

  // The verdict's reasons and the index lead here with #show-CLASS: the
  // documents of that class, filtered, at the top of the window.
  function follow() {
    const h = decodeURIComponent(location.hash || "");
    if (h.indexOf("#show-") !== 0) return;
    if (search.value !== "") search.value = "";
    select(h.slice(6));
    document.getElementById("documents").scrollIntoView();
  }
  window.addEventListener("hashchange", follow);
  document.addEventListener("click", function (e) {
    const a = e.target.closest && e.target.closest("a[data-filter]");
    // The same link twice changes no hash: follow it anyway.
    if (a && a.getAttribute("href") === location.hash) follow();
  });

  function shq(s) {
    return "'" + String(s).split("'").join("'\\''") + "'";
  }

  // A value as indented JSON, folded past a few lines.
  function value(v, absentText) {
    const td = el("td");
    td.dir = "auto";
    if (v === undefined) {
      td.appendChild(el("span", "absent", absentText || "(absent)"));
      return td;
    }
    const text = JSON.stringify(v, null, 2);
    const lines = text.split("\n");
    if (lines.length <= 8) {
      td.appendChild(el("pre", "", text));
      return td;
    }
    const d = el("details");
    const first = lines[0].length > 60 ? lines[0].slice(0, 60) + "…" : lines[0];
    d.appendChild(el("summary", "", first + " … (" + lines.length + " lines)"));
    d.appendChild(el("pre", "", text));
    td.appendChild(d);
    return td;
  }

  function row(tbody, path, before, after, absentBefore, absentAfter) {
    const tr = el("tr");
    const p = el("td");
    p.appendChild(el("code", "", path === "" ? "(whole document)" : path));
    tr.appendChild(p);
    const b = value(before, absentBefore);
    b.classList.add("before");
    const a = value(after, absentAfter);
    a.classList.add("after");
    tr.appendChild(b);
    tr.appendChild(a);
    tbody.appendChild(tr);
  }

  function sideBySide(beforeLabel, afterLabel) {
    const t = el("table", "sbs");
    const h = t.createTHead().insertRow();
    for (const x of ["path", beforeLabel, afterLabel]) h.appendChild(el("th", "", x));
    return t;
  }

  // The rows of an RFC 6902 patch whose replace and remove ops follow a
  // test op with the old value: one row per path, before and after.
  function patchRows(tbody, patch) {
    const old = {};
    for (const op of patch || []) {
      switch (op.op) {
        case "test":
          old[op.path] = op.value;
          break;
        case "add":
          row(tbody, op.path, old[op.path], op.value);
          break;
        case "replace":
          row(tbody, op.path, old[op.path], op.value, "(not in the patch)");
          break;
        case "remove":
          row(tbody, op.path, old[op.path], undefined, "(not in the patch)", "(removed)");
          break;
        default:
          row(tbody, op.path, op.from !== undefined ? "(" + op.op + " from " + op.from + ")" : undefined, op.value);
      }
    }
  }

  const known = ["_id", "change", "routing", "patch", "restored", "original", "backup", "invalid_line", "not_recovered", "watched"];

  function card(d) {
    const line = d.l || {};
    const c = classes[d.c] || { label: d.c, symbol: "?", before: "original", after: "target" };
    const a = el("article", "doc c-" + d.c);
    a.setAttribute("data-id", d.id);
    a.setAttribute("data-class", d.c);
    const h = el("h3");
    h.appendChild(el("span", "sym", c.symbol));
    const bid = el("bdi");
    bid.appendChild(el("code", "id", d.id));
    h.appendChild(bid);
    h.appendChild(el("span", "tag", c.label));
    if (d.w && d.w.length) h.appendChild(el("span", "tag watch", "watched: " + d.w.join(", ")));
    if (d.cut) h.appendChild(el("span", "tag cut", "shortened for the page; the whole line is in diff.ndjson.gz"));
    a.appendChild(h);
    const t = sideBySide(c.before, c.after);
    const tb = t.createTBody();
    if (line.routing) {
      row(tb, "_routing", line.routing.original === undefined ? undefined : line.routing.original,
        line.routing.restored === undefined ? undefined : line.routing.restored);
    }
    if (line.patch) patchRows(tb, line.patch);
    if (line.restored !== undefined) row(tb, "", undefined, line.restored, "(not in the original)");
    if (line.original !== undefined) row(tb, "", line.original, undefined, undefined, "(not in the target)");
    if (line.backup !== undefined) row(tb, "", line.backup, undefined, undefined, "(left out by the scope)");
    if (line.invalid_line !== undefined) row(tb, "(line)", undefined, line.invalid_line);
    // Members this page does not know (a newer writer's) still show.
    for (const k of Object.keys(line)) {
      if (known.indexOf(k) < 0) row(tb, "(" + k + ")", undefined, line[k]);
    }
    if (tb.rows.length === 0) row(tb, "(no operation)", undefined, undefined);
    a.appendChild(t);
    if (line.not_recovered && line.not_recovered.length) {
      a.appendChild(el("p", "note", "In the backup, but neither in the original nor in the target:"));
      const n = sideBySide("original", "backup");
      patchRows(n.createTBody(), line.not_recovered);
      a.appendChild(n);
    }
    return a;
  }

  const pageSize = 25;
  let limit = pageSize;
  function draw(reset) {
    if (reset) limit = pageSize;
    const q = search.value.trim();
    const shown = data.docs.filter(function (d) {
      const inClass = current === "all" || d.c === current || (current === "watched" && d.w && d.w.length > 0);
      return inClass && (q === "" || d.id.indexOf(q) >= 0);
    });
    list.textContent = "";
    for (const d of shown.slice(0, limit)) list.appendChild(card(d));
    if (shown.length > limit) {
      const b = el("button", "more", "show " + Math.min(pageSize, shown.length - limit) + " more");
      b.type = "button";
      b.addEventListener("click", function () {
        limit += pageSize;
        draw();
      });
      list.appendChild(b);
    }
    let msg = shown.length + " of the " + data.docs.length + " documents kept for this page";
    const c = classes[current];
    if (c && c.more > 0) msg += "; " + c.more.toLocaleString("en-US") + " more " + c.label + " in diff.ndjson.gz: " + c.cmd;
    if (q !== "") msg += ". Any id in diff.ndjson.gz: " + data.fetch + " | jq -c --arg id " + shq(q) + " 'select(._id == $id)'";
    status.textContent = msg;
  }
  if ((location.hash || "").indexOf("#show-") === 0) follow();
  else draw();
})();
