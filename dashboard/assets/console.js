/* Race control's console (the race-control page only): sign in, then act — guns, manual passings,
 * DNF/DQ, unknown chips, alert acknowledgements — and read the audit log.
 *
 * The token is kept in sessionStorage (this tab, until it is closed), never in localStorage. Until
 * the server has accepted it (GET /api/admin/whoami), no control exists in the page: the controls
 * are built after the sign-in and removed at the sign-out. Every action first asks, in words, what
 * will happen; the request carries an Idempotency-Key made when the question was asked, so a double
 * click or a retry is applied once. A 409 (a gun already set, a chip worn by another bib) asks again
 * whether to override. Everything shown is set as text, never as HTML.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "pursuit.admin.token";
  var POLL_MS = 1000;
  var LOG_ROWS = 25;
  // the page's language (dashboard/language.py): T("English text", {field: value})
  var I18N = (function () {
    if (window.pursuitI18n) return window.pursuitI18n;  // the page's dictionary script (dashboard/page_assets.py)
    try { return JSON.parse(document.getElementById("pursuit-i18n").textContent); } catch (e) { return {}; }
  })();
  var LANG = I18N.lang || "en";
  function T(s, params) {
    var out = (I18N.messages && I18N.messages[s]) || s;
    return params ? out.replace(/\{(\w+)\}/g, function (w, k) { return params[k] === undefined ? w : String(params[k]); }) : out;
  }
  function fmtInt(n) { return new Intl.NumberFormat(LANG).format(n); }
  var S = { token: null, operator: null, race: null, chips: [], runner: null, timer: null, meta: null, polls: 0 };

  // ---- helpers -------------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function button(id, text, onClick, cls) {
    var b = el("button", "admin-control " + (cls || "console-button"), text);
    b.type = "button";
    if (id) b.id = id;
    b.addEventListener("click", onClick);
    return b;
  }
  function input(id, placeholder, width) {
    var i = el("input", "admin-control console-input");
    i.id = id; i.type = "text"; i.placeholder = placeholder; i.autocomplete = "off";
    if (width) i.style.width = width;
    return i;
  }
  function select(id, options) {
    var s = el("select", "admin-control console-select");
    s.id = id;
    options.forEach(function (o) { var opt = el("option", null, o[1]); opt.value = o[0]; s.appendChild(opt); });
    return s;
  }
  function labelled(text, control) {
    var l = el("label", "console-field");
    l.appendChild(el("span", "console-label", text));
    l.appendChild(control);
    return l;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }
  function base() { return raceMeta().base || ""; }  // "/races/10k" on an event's other races
  function raceMeta() {
    if (!S.meta) { var m = $("race-meta"); if (m) S.meta = JSON.parse(m.getAttribute("data-race")); }
    return S.meta;
  }
  function clockFmt() {
    return new Intl.DateTimeFormat("en-GB", { timeZone: raceMeta().timezone, hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23" });
  }
  function fmtClock(unix) { return clockFmt().format(new Date(unix * 1000)); }
  function fmtIso(iso) { return iso ? fmtClock(Date.parse(iso) / 1000) : "–"; }
  function raceNow() {
    var st = window.pursuit && window.pursuit.state;
    return st && st.now ? st.now : Date.now() / 1000;
  }
  // a typed time of day (HH:MM, HH:MM:SS or HH:MM:SS.ss) in the race's zone, as HH:MM:SS[.ss]: sent as
  // it is, the server puts it on the date nearest its race clock (23:58 typed at 00:05 is the night
  // before); null for an empty box; throws with a message for anything else
  function typedTime(id) {
    var v = ($(id).value || "").trim();
    if (!v) return null;
    var m = /^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?$/.exec(v);
    if (!m || +m[1] > 23 || +m[2] > 59 || (m[3] && +m[3] > 59)) throw new Error("time " + JSON.stringify(v) + ": type HH:MM:SS");
    return m[1].padStart(2, "0") + ":" + m[2] + ":" + (m[3] || "00") + (m[4] || "");
  }
  function roster() { return window.pursuit && window.pursuit.roster ? window.pursuit.roster() : null; }
  function who(bib) {
    var r = roster();
    if (!r) return T("bib {bib}", { bib: bib });
    var i = r.bibs.indexOf(bib);
    return i < 0 ? T("bib {bib}", { bib: bib }) : T("bib {bib}", { bib: bib }) + " (" + r.names[i] + ")";
  }
  function penCount(pen) {
    var r = roster();
    if (!r) return null;
    return r.pens.filter(function (p) { return p === pen; }).length;
  }
  function say(text, bad) {
    var m = $("console-msg");
    if (!m) return;
    m.textContent = text;
    m.className = "console-msg" + (bad ? " console-msg-bad" : " console-msg-ok");
  }

  // ---- talking to the server ---------------------------------------------------------------

  function api(method, path, body, key, token) {
    var headers = { "Authorization": "Bearer " + (token || S.token) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    return fetch(base() + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          // a 401 with Retry-After refuses this address for a while (someone here failed to sign in
          // too often), not this token: keep the operator signed in and say so; the polls go on
          var held = r.headers.get("retry-after");
          if (r.status === 401 && !token && S.token && !held) { var refused = T("the token was refused"); signOut(T("signed out: {why}", { why: b.error || refused })); }
          else if (r.status === 401 && held && S.token) say(b.error || T("refused for {n} s", { n: held }), true);
          return { status: r.status, body: b, retryAfter: held ? Number(held) : 0 };
        });
      });
  }

  // ---- the confirmation ---------------------------------------------------------------------

  function confirmBox() {
    var box = $("confirm");
    if (box) return box;
    box = el("div", "confirm-overlay");
    box.id = "confirm"; box.hidden = true;
    box.setAttribute("role", "dialog"); box.setAttribute("aria-modal", "true");
    var inner = el("div", "confirm-box");
    var text = el("p", "confirm-text"); text.id = "confirm-text";
    var ok = el("button", "admin-control confirm-ok", T("Confirm")); ok.id = "confirm-ok"; ok.type = "button";
    var cancel = el("button", "confirm-cancel", T("Cancel")); cancel.id = "confirm-cancel"; cancel.type = "button";
    cancel.addEventListener("click", function () { box.hidden = true; box.pending = null; });
    ok.addEventListener("click", function () {
      var go = box.pending;
      if (!go) return;  // a second click on the same question: already sent
      box.pending = null;
      box.hidden = true;
      go();
    });
    var row = el("div", "confirm-buttons");
    row.appendChild(cancel); row.appendChild(ok);
    inner.appendChild(text); inner.appendChild(row);
    box.appendChild(inner);
    document.body.appendChild(box);
    return box;
  }

  // ask ``question``; on yes, POST ``body`` to ``path`` once (one Idempotency-Key for this question);
  // a 409 asks again whether to override, with the server's words
  function act(question, path, body, okText) {
    var box = confirmBox(), key = newKey();
    $("confirm-text").textContent = question;
    $("confirm-ok").textContent = T("Confirm");
    box.hidden = false;
    box.pending = function () {
      say(T("sending…"));
      api("POST", path, body, key).then(function (r) {
        if (r.status === 200) {
          say(r.body.unchanged ? T("already so: nothing changed") : okText(r.body));
        } else if (r.status === 409 && body.override !== true && /override/.test(r.body.error || "")) {
          var again = Object.assign({}, body, { override: true });
          act(r.body.error.replace(/; .*$/, "") + ". " + T("Override?"), path, again, okText);
          $("confirm-ok").textContent = T("Override");
        } else if (r.status !== 401) {
          say((r.body && r.body.error) || "HTTP " + r.status, true);
        }
        refresh();
      }, function (err) { say(T("not sent: {why} — try again", { why: err.message }), true); });
    };
    $("confirm-ok").focus();
  }

  // ---- the actions ----------------------------------------------------------------------------

  function gunTarget() {
    var v = $("gun-target").value, m = raceMeta();
    if (v === "pursuer") return { path: "/api/admin/pursuer", name: m.pursuer.name, pen: null, gun: S.race ? S.race.pursuer : null };
    var pen = m.pens.find(function (p) { return p.id === v; });
    var gun = S.race ? S.race.pens.find(function (p) { return p.id === v; }) : null;
    return { path: "/api/admin/pens/" + encodeURIComponent(v), name: pen ? pen.name : T("pen {pen}", { pen: v }), pen: v, gun: gun };
  }

  function startGun() {
    var t;
    try { t = typedTime("gun-time"); } catch (e) { say(e.message, true); return; }
    var g = gunTarget(), when = t ? t : T("now ({clock} on the race clock)", { clock: fmtClock(raceNow()) });
    var n = g.pen !== null ? penCount(g.pen) : null;
    var runners = n === null ? "" : " — " + T("{n} runners", { n: fmtInt(n) }) + " —";
    var asked = { name: g.name, runners: runners, when: when };
    var q = g.pen !== null ? T("Release {name}{runners} at {when}?", asked) : T("Start {name}{runners} at {when}?", asked);
    var body = t ? { time: t } : {};
    if (g.gun && g.gun.started) {
      q = T("{name} already started at {start}. Move its gun to {when}? Every time counted from it is recomputed.",
        { name: g.name, start: fmtIso(g.gun.start), when: when });
      body.override = true;
    }
    act(q, g.path + "/start", body, function (b) { return T("{name} started at {time}.", { name: g.name, time: fmtIso(b.gun) }); });
  }

  function undoGun() {
    var g = gunTarget();
    if (!g.gun || !g.gun.started) { say(T("{name} has no gun to undo", { name: g.name }), true); return; }
    var n = g.pen !== null ? penCount(g.pen) : null;
    var whom = g.pen !== null ? T("Its {n}runners go", { n: n === null ? "" : fmtInt(n) + " " }) : T("He goes");
    var q = T("Undo the gun of {name} (set at {start})? {whom} back to not started until a new gun; statuses and times are recomputed.",
      { name: g.name, start: fmtIso(g.gun.start), whom: whom });
    act(q, g.path + "/undo", {}, function () { return T("{name}'s gun undone.", { name: g.name }); });
  }

  function runnerBib() {
    var bib = ($("runner-bib").value || "").trim();
    if (!bib) { say(T("type a bib first"), true); return null; }
    return bib;
  }

  function addPassing() {
    var bib = runnerBib(), t;
    if (bib === null) return;
    try { t = typedTime("pass-time"); } catch (e) { say(e.message, true); return; }
    var mat = $("pass-mat").value, when = t ? t : T("now ({clock})", { clock: fmtClock(raceNow()) });
    var body = { bib: bib, mat: mat };
    if (t) body.time = t;
    act(T("Add a passing for {who} at {mat} at {when}?", { who: who(bib), mat: mat, when: when }), "/api/admin/passings", body,
      function () { return T("passing added for bib {bib} at {mat}.", { bib: bib, mat: mat }); });
  }

  function voidPassing() {
    var bib = runnerBib(), t;
    if (bib === null) return;
    try { t = typedTime("pass-time"); } catch (e) { say(e.message, true); return; }
    var mat = $("pass-mat").value, time = t, label = t;
    if (!time && S.runner && S.runner.bib === bib) {  // the runner's passing at that mat, as looked up
      var split = (S.runner.splits || []).find(function (s) { return s.mat === mat; });
      if (split) { time = split.time; label = fmtIso(split.time); }
    }
    if (!time) { say(T("type the time of the passing to void (HH:MM:SS)"), true); return; }
    act(T("Void the passing of {who} at {mat} at {when}? Later crossings of that mat move up.", { who: who(bib), mat: mat, when: label }),
      "/api/admin/passings/void", { bib: bib, mat: mat, time: time },
      function () { return T("passing of bib {bib} at {mat} voided.", { bib: bib, mat: mat }); });
  }

  function setStatus() {
    var bib = runnerBib();
    if (bib === null) return;
    var status = $("status-value").value, reason = ($("status-reason").value || "").trim();
    var why = reason ? T(" — reason: {reason}", { reason: reason }) : T(" (no reason given)");
    var q = status === "ok" ? T("Put {who} back to running (no DNF or DQ)?", { who: who(bib) })
      : T("Set {who} {status}{reason}?", { who: who(bib), status: status.toUpperCase(), reason: why });
    act(q, "/api/admin/runners/" + encodeURIComponent(bib) + "/status", { status: status, reason: reason },
      function () { return T("bib {bib} is {status}.", { bib: bib, status: status === "ok" ? T("running") : status.toUpperCase() }); });
  }

  function assignChip(chip, bibInput) {
    var bib = (bibInput.value || "").trim();
    if (!bib) { say(T("type the bib that wears chip {chip}", { chip: chip }), true); return; }
    var row = S.chips.find(function (c) { return c.chip === chip; });
    var mats = row ? row.mats.map(function (m) { return m.mat; }) : [];
    var given = { chip: chip, who: who(bib), mats: mats.join(", ") || T("no mat yet"), bib: bib };
    var q = mats.length === 1
      ? T("Give chip {chip} to {who}? Its reads at {mats} become a passing of bib {bib}, and its later reads count for them.", given)
      : T("Give chip {chip} to {who}? Its reads at {mats} become passings of bib {bib}, and its later reads count for them.", given);
    act(q, "/api/admin/chips", { chip: chip, bib: bib }, function (b) {
      return T("chip {chip} is bib {bib}'s ({n} mats back-filled).", { chip: chip, bib: bib, n: b.mats_backfilled });
    });
  }

  function ack(alert) {
    act(T("Acknowledge for every screen: “{text}”?", { text: window.pursuit && window.pursuit.eventText ? window.pursuit.eventText(alert) : alert.text }),
      "/api/admin/alerts/" + encodeURIComponent(alert.id) + "/ack", {}, function () { return T("alert acknowledged."); });
  }

  // ---- what the console shows -----------------------------------------------------------------

  function renderStarts() {
    var box = $("gun-starts");
    if (!box || !S.race) return;
    var items = S.race.pens.map(function (p) {
      return el("span", "start " + (p.started ? "start-set" : "start-planned"),
        p.name + ": " + (p.started ? fmtIso(p.start) : T("not started")));
    });
    var pursuerSet = !!(S.race.pursuer && S.race.pursuer.started);
    if (S.race.pursuer) {  // a race without a pursuer has only its pens to start
      items.push(el("span", "start " + (pursuerSet ? "start-set" : "start-planned"),
        S.race.pursuer.name + ": " + (pursuerSet ? fmtIso(S.race.pursuer.start) : T("not started"))));
    }
    box.replaceChildren.apply(box, items);
  }

  function renderRunner() {
    var box = $("runner-card");
    if (!box) return;
    var r = S.runner;
    if (!r) { box.replaceChildren(); return; }
    if (r.error) { box.replaceChildren(el("span", "console-msg-bad", r.error)); return; }
    var head = el("div", "runner-head", r.bib + " · " + r.name + " · " + T("pen {pen}", { pen: r.pen }) + " · ");
    head.appendChild(el("span", "runner-status status-" + r.status, r.status));
    var splits = el("div", "runner-splits");
    var seen = {};
    (r.splits || []).forEach(function (s) { seen[s.mat + "#" + s.crossing] = s; });
    (S.timing || []).forEach(function (tp) {
      var s = seen[tp.mat + "#" + tp.crossing];
      splits.appendChild(el("span", s ? "split split-read" : "split split-missing",
        tp.mat + " " + (tp.at_m / 1000).toFixed(2) + " km: " + (s ? fmtIso(s.time) : T("no passing"))));
    });
    box.replaceChildren(head, splits);
  }

  function renderChips() {
    var box = $("chips");
    if (!box) return;
    if (!S.chips.length) { box.replaceChildren(el("span", "console-empty", T("no unknown chips"))); return; }
    var t = el("table", "table"), hr = el("tr");
    [T("chip"), T("reads"), T("read at"), T("bib"), ""].forEach(function (h) { hr.appendChild(el("th", null, h)); });
    t.appendChild(hr);
    S.chips.forEach(function (c) {
      var tr = el("tr", "chip-row");
      tr.setAttribute("data-chip", c.chip);
      tr.appendChild(el("td", "chip-code", c.chip));
      tr.appendChild(el("td", null, c.reads));
      tr.appendChild(el("td", null, c.mats.map(function (m) { return m.mat + " " + fmtIso(m.first); }).join(", ")));
      var old = box.querySelector("tr[data-chip='" + CSS.escape(c.chip) + "'] input");
      var bib = input("", T("bib"), "5em"); bib.className += " chip-bib"; bib.id = "";
      if (old) bib.value = old.value;  // what the operator is typing survives the refresh
      var td = el("td"); td.appendChild(bib); tr.appendChild(td);
      td = el("td"); td.appendChild(button(null, T("assign"), function () { assignChip(c.chip, bib); }, "console-button chip-assign"));
      tr.appendChild(td);
      t.appendChild(tr);
    });
    var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.closest("tr") : null;
    if (focused) return;  // never re-render under the operator's cursor
    box.replaceChildren(t);
  }

  function describe(e) {
    var a = e.args || {};
    switch (e.action) {
      case "start_pen": return "pen " + a.pen + " gun " + fmtClock(a.time) + (a.previous ? " (was " + fmtClock(a.previous) + ")" : "");
      case "start_pursuer": return "pursuer gun " + fmtClock(a.time) + (a.previous ? " (was " + fmtClock(a.previous) + ")" : "");
      case "undo_start": return (a.target || "") + " gun undone (was " + fmtClock(a.previous) + ")";
      case "add_passing": return "bib " + a.bib + " at " + a.mat + " " + fmtClock(a.time);
      case "void_passing": return "void bib " + a.bib + " at " + a.mat + " " + fmtClock(a.time);
      case "set_status": return "bib " + a.bib + " " + String(a.status).toUpperCase() + (a.reason ? ": " + a.reason : "");
      case "assign_chip": return "chip " + a.chip + " → bib " + a.bib;
      case "ack_alert": return "alert " + a.event;
      case "sign_in": return "signed in";
      default: return JSON.stringify(a);
    }
  }

  function renderLog(entries) {
    var box = $("audit");
    if (!box) return;
    var t = el("table", "table audit-table"), hr = el("tr");
    [T("time"), T("operator"), T("action"), T("what"), T("result")].forEach(function (h) { hr.appendChild(el("th", null, h)); });
    t.appendChild(hr);
    entries.forEach(function (e) {
      var tr = el("tr", "audit-row");
      var res = e.result === null ? T("unknown") : e.result.http === 200 ? "ok" : e.result.http + ": " + (e.result.answer.error || "");
      [fmtClock(e.wall), e.operator, e.action, describe(e), res].forEach(function (v, i) {
        tr.appendChild(el("td", ["audit-time", "audit-operator", "audit-action", "audit-what", "audit-result"][i], v));
      });
      t.appendChild(tr);
    });
    box.replaceChildren(t);
  }

  function refresh() {
    if (!S.token) return;
    var asked = [];
    asked.push(fetch(base() + "/api/race").then(function (r) { return r.ok ? r.json() : null; }).then(function (race) {
      if (!race) return;
      S.race = race; S.timing = race.timing_points; renderStarts();
    }).catch(function () { /* the connection state says enough */ }));
    asked.push(api("GET", "/api/admin/unknown-chips").then(function (r) { if (r.status === 200) { S.chips = r.body.chips; renderChips(); } }));
    asked.push(api("GET", "/api/admin/log?limit=" + LOG_ROWS).then(function (r) { if (r.status === 200) renderLog(r.body.entries); }));
    var bib = $("runner-bib") ? $("runner-bib").value.trim() : "";
    if (bib) {
      asked.push(fetch(base() + "/api/runners/" + encodeURIComponent(bib)).then(function (r) {
        return r.json().then(function (b) { return r.ok ? b : { bib: bib, error: b.error || "HTTP " + r.status }; });
      }).then(function (b) { if ($("runner-bib") && $("runner-bib").value.trim() === bib) { S.runner = b; renderRunner(); } })
        .catch(function () { /* next poll */ }));
    } else if (S.runner) { S.runner = null; renderRunner(); }
    Promise.all(asked.map(function (p) { return p.catch(function () {}); })).then(function () { S.polls += 1; });
  }

  // ---- building the console ---------------------------------------------------------------------

  function section(title, children, cls) {
    var s = el("div", "console-section " + (cls || ""));
    s.appendChild(el("h3", null, title));  // titles come translated
    children.forEach(function (c) { s.appendChild(c); });
    return s;
  }
  function row(children) { var r = el("div", "console-row"); children.forEach(function (c) { r.appendChild(c); }); return r; }

  function build() {
    var box = $("console-controls"), m = raceMeta();
    if (!box || !m) return;
    var targets = m.pens.map(function (p) { return [p.id, p.name]; })
      .concat(m.pursuer ? [["pursuer", m.pursuer.name + " (" + T("pursuer") + ")"]] : []);
    var mats = m.mats.map(function (x) { return [x, x]; });
    var starts = el("div", "starts"); starts.id = "gun-starts";
    var card = el("div", "runner-card"); card.id = "runner-card";
    var chips = el("div", "chips"); chips.id = "chips";
    var audit = el("div", "audit"); audit.id = "audit";
    var bibBox = input("runner-bib", T("bib"), "6em");
    bibBox.addEventListener("input", function () { S.runner = null; renderRunner(); refresh(); });
    box.replaceChildren(
      section(T("Guns"), [
        row([labelled(T("start"), select("gun-target", targets)), labelled(T("at"), input("gun-time", T("now, or HH:MM:SS"), "9em")),
          button("gun-start", T("Release / start"), startGun), button("gun-undo", T("Undo gun"), undoGun, "console-button console-danger")]),
        starts]),
      section(T("Runner"), [
        row([labelled(T("bib"), bibBox)]), card,
        row([labelled(T("mat"), select("pass-mat", mats)), labelled(T("at"), input("pass-time", T("now, or HH:MM:SS"), "9em")),
          button("pass-add", T("Add passing"), addPassing), button("pass-void", T("Void passing"), voidPassing, "console-button console-danger")]),
        row([labelled(T("status"), select("status-value", [["dnf", "DNF"], ["dq", "DQ"], ["ok", T("running")]])),
          labelled(T("reason"), input("status-reason", T("why (shown in the log)"), "14em")), button("status-set", T("Set status"), setStatus)])]),
      section(T("Unknown chips"), [chips]),
      section(T("Audit log"), [audit], "console-audit"));
    refresh();
  }

  function authBox() {  // the sign-in form, or who is signed in and the sign-out button
    var box = $("console-auth");
    if (!box) return;
    if (S.operator) {
      var who_ = el("span", "signed-in");
      who_.appendChild(document.createTextNode(T("signed in as") + " "));
      var name = el("b", null, S.operator); name.id = "operator-name";
      who_.appendChild(name);
      var out = el("button", "console-button", T("Sign out")); out.id = "signout"; out.type = "button";
      out.addEventListener("click", function () { signOut(""); });
      box.replaceChildren(who_, out);
      return;
    }
    var form = el("form", "signin"); form.id = "signin";
    var token = el("input", "console-input");
    token.id = "signin-token"; token.type = "password"; token.autocomplete = "off";
    token.placeholder = T("admin or operator token");
    token.setAttribute("aria-label", T("race control token"));
    var go = el("button", "console-button", T("Sign in")); go.type = "submit"; go.id = "signin-go";
    var err = el("span", "signin-error"); err.id = "signin-error";
    form.appendChild(token); form.appendChild(go); form.appendChild(err);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var t = (token.value || "").trim();
      if (t) trySignIn(t, false);
    });
    box.replaceChildren(form);
  }

  function signedIn(name) {
    S.operator = name;
    authBox();
    build();
    clearInterval(S.timer);
    S.timer = setInterval(refresh, POLL_MS);
    if (window.pursuit && window.pursuit.alertsChanged) window.pursuit.alertsChanged();
  }

  function signOut(why) {
    S.token = null; S.operator = null; S.runner = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    clearInterval(S.timer);
    var box = $("console-controls");
    if (box) box.replaceChildren();
    var c = $("confirm");
    if (c) { c.hidden = true; c.pending = null; }
    authBox();
    if (why) setText("signin-error", why);
    say("", false);
    if (window.pursuit && window.pursuit.alertsChanged) window.pursuit.alertsChanged();
  }

  function setText(id, text) { var e = $(id); if (e) e.textContent = text; }

  function trySignIn(token, remembered) {
    setText("signin-error", T("checking…"));
    var check = remembered ? api("GET", "/api/admin/whoami", undefined, null, token)
      : api("POST", "/api/admin/signin", {}, newKey(), token);
    check.then(function (r) {
      if (r.status !== 200 && remembered && r.retryAfter) {  // the address is held, not the token: try again
        setText("signin-error", r.body.error || "HTTP " + r.status);
        setTimeout(function () { if (!S.token) trySignIn(token, true); }, 1000 * r.retryAfter);
        return;
      }
      if (r.status !== 200) {
        setText("signin-error", remembered ? "" : (r.body.error || "HTTP " + r.status));
        if (remembered) { try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ } }
        return;
      }
      S.token = token;
      try { sessionStorage.setItem(TOKEN_KEY, token); } catch (e) { /* private mode: this page only */ }
      signedIn(r.body.operator);
    }, function (err) { setText("signin-error", T("not sent: {why}", { why: err.message })); });
  }

  function bind() {  // Dash renders the page (again on navigation): fill the frame once per render
    var box = $("console-auth");
    if (!box || box.dataset.bound) return;
    box.dataset.bound = "1";
    if (S.token) { signedIn(S.operator); return; }
    authBox();
    var kept = null;
    try { kept = sessionStorage.getItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    if (kept) trySignIn(kept, true);
  }

  window.pursuitConsole = {
    operator: function () { return S.operator; },
    polls: function () { return S.polls; },  // console refreshes completed (browser tests count them)
    ack: ack,
  };
  setInterval(bind, 300);
})();
