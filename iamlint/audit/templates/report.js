// The findings and principals tables: built from the JSON in #iamlint-data, searched, filtered,
// sorted and paged in the browser. The state of both tables is kept in the URL fragment, so a
// view can be shared as a link: #q=admin&severity=high&sort=rule&dir=asc (principals: pq, psort...).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("iamlint-data").textContent);
  var PAGE = 100;

  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function sevBadge(label) { return node("span", "sev sev-" + label, label); }

  function readHash() {
    var out = {};
    var text = window.location.hash.replace(/^#/, "");
    if (!text || text.indexOf("=") < 0) { return out; }
    text.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) {
        try { out[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1).replace(/\+/g, " ")); }
        catch (err) { /* a malformed fragment is ignored, not fatal */ }
      }
    });
    return out;
  }

  var hashState = readHash();
  var tables = [];

  function writeHash() {
    var parts = [];
    tables.forEach(function (t) {
      var s = t.state();
      Object.keys(s).forEach(function (k) {
        if (s[k] !== "" && s[k] !== t.defaults[k]) { parts.push(encodeURIComponent(t.prefix + k) + "=" + encodeURIComponent(s[k])); }
      });
    });
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search + hash);
    }
  }

  function Table(id, prefix, rows, columns, defaults) {
    var self = this;
    this.id = id;
    this.prefix = prefix;
    this.rows = rows;
    this.columns = columns;
    this.defaults = defaults;
    this.page = 0;
    this.q = document.getElementById(id + "-q");
    this.severity = document.getElementById(id + "-severity");
    this.account = document.getElementById(id + "-account");
    this.count = document.getElementById(id + "-count");
    this.holder = document.getElementById(id + "-table");
    this.pager = document.getElementById(id + "-pager");
    rows.forEach(function (r) {
      r._text = columns.map(function (c) { return c.search ? c.search(r) : String(r[c.key] == null ? "" : r[c.key]); })
        .join(" \u0001 ").toLowerCase();
    });
    var accounts = {};
    rows.forEach(function (r) { accounts[r.account] = true; });
    Object.keys(accounts).sort().forEach(function (a) { self.account.appendChild(node("option", null, a)); });
    var given = function (k) { return hashState[prefix + k] !== undefined ? hashState[prefix + k] : defaults[k]; };
    this.q.value = given("q") || "";
    this.severity.value = given("severity") || "";
    this.account.value = given("account") || "";
    this.sort = given("sort");
    this.dir = given("dir");
    this.page = Math.max(0, parseInt(given("page") || "1", 10) - 1) || 0;
    var changed = function () { self.page = 0; self.update(); };
    this.q.addEventListener("input", changed);
    this.severity.addEventListener("change", changed);
    this.account.addEventListener("change", changed);
  }

  Table.prototype.state = function () {
    return { q: this.q.value, severity: this.severity.value, account: this.account.value, sort: this.sort,
      dir: this.dir, page: this.page ? String(this.page + 1) : "" };
  };

  Table.prototype.column = function (key) {
    for (var i = 0; i < this.columns.length; i++) { if (this.columns[i].key === key) { return this.columns[i]; } }
    return this.columns[0];
  };

  Table.prototype.visible = function () {
    var words = this.q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var sev = this.severity.value, acct = this.account.value;
    var out = this.rows.filter(function (r) {
      if (sev && r.severity !== sev) { return false; }
      if (acct && r.account !== acct) { return false; }
      for (var i = 0; i < words.length; i++) { if (r._text.indexOf(words[i]) < 0) { return false; } }
      return true;
    });
    var col = this.column(this.sort), key = col.sortKey || col.key, sign = this.dir === "asc" ? 1 : -1;
    var numeric = col.type === "num";
    out.sort(function (a, b) {
      var x = a[key], y = b[key], c;
      if (numeric) { c = (Number(x) || 0) - (Number(y) || 0); }
      else { c = String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" }); }
      return c * sign || a._order - b._order;
    });
    return out;
  };

  Table.prototype.update = function () {
    var self = this;
    var rows = this.visible();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (this.page >= pages) { this.page = pages - 1; }
    var shown = rows.slice(this.page * PAGE, (this.page + 1) * PAGE);
    var table = node("table", "data");
    table.id = this.id + "-rows";
    var head = node("thead"), tr = node("tr");
    this.columns.forEach(function (c) {
      var th = node("th", "sortable", c.label);
      th.setAttribute("data-key", c.key);
      th.setAttribute("aria-sort", c.key === self.sort ? (self.dir === "asc" ? "ascending" : "descending") : "none");
      th.title = "Sort by " + c.label.toLowerCase();
      th.addEventListener("click", function () {
        if (self.sort === c.key) { self.dir = self.dir === "asc" ? "desc" : "asc"; }
        else { self.sort = c.key; self.dir = c.type === "num" ? "desc" : "asc"; }
        self.update();
      });
      tr.appendChild(th);
    });
    head.appendChild(tr);
    table.appendChild(head);
    var body = node("tbody");
    shown.forEach(function (r) {
      var row = node("tr");
      row.setAttribute("data-id", r._order);
      self.columns.forEach(function (c) {
        var td = node("td", c.cls || null);
        var content = c.render ? c.render(r) : r[c.key];
        if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content == null ? "" : String(content); }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    table.appendChild(body);
    this.holder.replaceChildren(table);
    this.count.textContent = "showing " + (rows.length ? this.page * PAGE + 1 : 0) + "\u2013" +
      (this.page * PAGE + shown.length) + " of " + rows.length + (rows.length !== this.rows.length ? " (filtered from " + this.rows.length + ")" : "");
    this.pager.replaceChildren();
    if (pages > 1) {
      var prev = node("button", null, "\u2190 previous"), next = node("button", null, "next \u2192");
      prev.disabled = this.page === 0;
      next.disabled = this.page >= pages - 1;
      prev.addEventListener("click", function () { self.page -= 1; self.update(); });
      next.addEventListener("click", function () { self.page += 1; self.update(); });
      this.pager.appendChild(prev);
      this.pager.appendChild(node("span", null, "page " + (this.page + 1) + " of " + pages));
      this.pager.appendChild(next);
    }
    writeHash();
  };

  function ruleCell(r) {
    var wrap = node("span");
    var a = node("a", null, r.rule);
    a.href = r.help;
    a.title = "Documentation of " + r.rule + " (" + r.name + ")";
    a.target = "_blank";
    a.rel = "noopener";
    wrap.appendChild(a);
    wrap.appendChild(node("div", "muted", r.name));
    return wrap;
  }

  function messageCell(r) {
    var wrap = node("span", null, r.message);
    if (r.actions) { wrap.appendChild(node("div", "muted mono", r.actions)); }
    if (r.policy) { wrap.appendChild(node("div", "muted", "policy " + r.policy)); }
    return wrap;
  }

  function whereCell(r) {
    var wrap = node("span", null, r.where);
    if (r.path) { wrap.appendChild(node("div", "muted", r.path)); }
    return wrap;
  }

  function unusedCell(r) {
    if (r.unused < 0) { return node("span", "muted", "no data"); }
    var wrap = node("span", null, r.unused + " of " + r.granted);
    if (r.unusedList) { wrap.appendChild(node("div", "muted", r.unusedList)); }
    return wrap;
  }

  data.findings.forEach(function (r, i) { r._order = i; });
  data.principals.forEach(function (r, i) { r._order = i; });

  tables.push(new Table("findings", "", data.findings, [
    { key: "severity", label: "Severity", sortKey: "rank", type: "num", render: function (r) { return sevBadge(r.severity); } },
    { key: "rule", label: "Rule", render: ruleCell, search: function (r) { return r.rule + " " + r.name; } },
    { key: "category", label: "Category" },
    { key: "account", label: "Account", cls: "mono nowrap" },
    { key: "who", label: "Principal or resource" },
    { key: "message", label: "Finding", cls: "message", render: messageCell,
      search: function (r) { return r.message + " " + r.actions + " " + r.policy; } },
    { key: "where", label: "Where", cls: "where", render: whereCell, search: function (r) { return r.where + " " + r.path; } }
  ], { q: "", severity: "", account: "", sort: "severity", dir: "desc", page: "" }));

  tables.push(new Table("principals", "p", data.principals, [
    { key: "account", label: "Account", cls: "mono nowrap" },
    { key: "principal", label: "Principal" },
    { key: "kind", label: "Kind" },
    { key: "severity", label: "Worst", sortKey: "rank", type: "num", render: function (r) { return sevBadge(r.severity); } },
    { key: "score", label: "Score", type: "num" },
    { key: "findings", label: "Findings", type: "num" },
    { key: "unused", label: "Unused services", type: "num", render: unusedCell,
      search: function (r) { return r.unusedList; } },
    { key: "unusedActions", label: "Unused actions", type: "num",
      render: function (r) { return r.unusedActions < 0 ? "" : String(r.unusedActions); } },
    { key: "workloads", label: "Used by" },
    { key: "calls", label: "CloudTrail calls", type: "num" }
  ], { q: "", severity: "", account: "", sort: "score", dir: "desc", page: "" }));

  tables.forEach(function (t) { t.update(); });
  document.documentElement.setAttribute("data-ready", "true");
})();
