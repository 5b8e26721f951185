/* The event view (/event): polls /api/event and fills one card per race with its clock (elapsed, its
 * own local time and zone, UTC), its pursuer (or its leader, for a race without one), its counts and
 * its forecast against the quota; for catcher-car races, the world leaderboard by sex and nation. */
(function () {
  "use strict";
  var main = document.querySelector(".cards");
  var every = 1000 * Number(main.getAttribute("data-poll-s") || 2);
  var I18N = (function () {  // the page's language (dashboard/language.py): T("English text")
    if (window.pursuitI18n) return window.pursuitI18n;  // the page's dictionary script (dashboard/page_assets.py)
    try { return JSON.parse(document.getElementById("pursuit-i18n").textContent); } catch (e) { return {}; }
  })();
  function T(s) { return (I18N.messages && I18N.messages[s]) || s; }
  var lang = I18N.lang || document.documentElement.lang || "en";
  var fmt = new Intl.NumberFormat(lang);
  var fmt2 = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var WORDS = { started: T("started"), ahead: T("ahead"), caught: T("caught"), won: T("won"), finished: T("finished"),
                dnf: T("stopped (DNF)"), waiting: T("waiting"), running: T("running") };
  function word(k) { return WORDS[k] || k; }
  function km(m) { return m == null ? "–" : fmt2.format(m / 1000) + " km"; }
  function clock(s) {
    if (s == null) return "–";
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(x).padStart(2, "0");
  }
  function row(dl, label, value, cls) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = label; dd.textContent = value;
    if (cls) dd.className = cls;
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function fill(card, r) {
    var dl = document.createElement("dl");
    dl.className = "card-body";
    if (!r.ready) { row(dl, T("state"), T("waiting for the engine")); card.querySelector(".card-body").replaceWith(dl); return; }
    row(dl, T("clock"), clock(r.clock.elapsed_s) + " · " + hms(r.clock.now) + " " + r.timezone + " · " + hms(r.clock.utc) + " UTC");
    if (r.pursuer) row(dl, T("pursuer"), r.pursuer.name + " · " + km(r.pursuer.distance_m) + " · " + word(r.pursuer.status));
    else row(dl, T("leader"), r.leader ? T("bib") + " " + r.leader.bib + " · " + km(r.leader.distance_m) : "–");
    var c = r.counts || {};
    var shown = ["started", "ahead", "caught", "won", "finished", "dnf"].filter(function (k) { return c[k]; });
    row(dl, T("runners"), fmt.format(r.participants) + (shown.length ? " · " + shown.map(function (k) { return word(k) + " " + fmt.format(c[k]); }).join(" · ") : ""));
    if (r.forecast && r.forecast.milestones) {  // a catcher-car race: expected still running at the next milestone
      var next = r.forecast.milestones.filter(function (m) { return !m.passed; })[0];
      if (next) row(dl, T("forecast"), fmt.format(next.expected) + " " + T("still running at") + " " + km(next.at_m) + " (" + fmt.format(next.low) + "–" + fmt.format(next.high) + ", " + Math.round(100 * r.forecast.level) + " %)");
    } else if (r.forecast) {
      var f = r.forecast, q = f.quota;
      var text = fmt.format(f.winners) + " " + T("winners") + " (" + fmt.format(f.low) + "–" + fmt.format(f.high) + ", " + Math.round(100 * f.level) + " %)";
      row(dl, T("forecast"), q == null ? text : text + " " + T("vs quota") + " " + fmt.format(q), q == null ? "" : (f.low > q ? "over" : f.high < q ? "under" : ""));
    }
    card.querySelector(".card-body").replaceWith(dl);
  }
  var BOARD_ROWS = 20;
  var filter = document.querySelector(".board-filter");
  function hms(iso) { return iso ? iso.slice(11, 19) : "–"; }  // an ISO time of day, in its own zone
  function when(r) { return r.caught_time ? hms(r.caught_time) + " UTC · " + hms(r.caught_time_local) + " " + T("local") : "–"; }
  function nations(list) {  // the picker keeps its choice; new nations are added as they appear
    var select = filter.elements.nation, have = {};
    Array.prototype.forEach.call(select.options, function (o) { have[o.value] = true; });
    list.forEach(function (n) { if (!have[n]) { var o = document.createElement("option"); o.value = o.textContent = n; select.appendChild(o); } });
  }
  function board(races) {  // a World Run: one ranking across its catcher-car races, overall, per sex, per nation
    var holder = document.getElementById("leaderboard");
    if (!races.some(function (r) { return r.outcome === "distance"; })) { holder.hidden = true; return; }
    var q = new URLSearchParams({ limit: BOARD_ROWS, sex: filter.elements.sex.value, nation: filter.elements.nation.value });
    fetch("/api/event/leaderboard?" + q).then(function (r) { return r.ok ? r.json() : null; }).then(function (b) {
      if (!b) return;
      nations(b.nations || []);
      var place = filter.elements.nation.value ? (filter.elements.sex.value ? "place_nation_sex" : "place_nation")
        : (filter.elements.sex.value ? "place_sex" : "place");
      var body = holder.querySelector("tbody");
      body.textContent = "";
      b.runners.forEach(function (r) {
        var tr = document.createElement("tr");
        [r[place], r.name + " (" + r.bib + ")", r.sex + " " + (r.place_sex || ""), r.nation || "–", r.race_name, km(r.distance_m), when(r), word(r.status)]
          .forEach(function (v) { var td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
        body.appendChild(tr);
      });
      holder.hidden = false;
    });
  }
  var last = [];
  filter.addEventListener("change", function () { board(last); });
  function conn(state, text) { var el = document.getElementById("conn"); el.className = "conn conn-" + state; el.textContent = text; }
  function poll() {
    fetch("/api/event").then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); }).then(function (body) {
      body.races.forEach(function (r) {
        var card = main.querySelector('[data-race="' + CSS.escape(r.id) + '"]');
        if (card) fill(card, r);
      });
      last = body.races;
      var ready = body.races.filter(function (r) { return r.clock; });
      if (ready.length) document.getElementById("utc").textContent = hms(ready[0].clock.utc) + " UTC";
      board(body.races);
      conn("ok", T("live"));
    }).catch(function () { conn("lost", T("reconnecting…")); }).then(function () { setTimeout(poll, every); });
  }
  poll();
})();
