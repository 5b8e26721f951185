/* pursuit in the browser: the live feed, the events stream, the map, the follow cards, the commentary.
 *
 * One client per tab, whatever the page: it takes the roster once (GET /api/roster), then the live
 * feed (/ws/live: a snapshot, then sparse ticks with consecutive seq; a gap asks for a new snapshot;
 * snapshots come gzipped, as binary messages, where the browser has DecompressionStream; after a
 * drop it reconnects with ?after=<last seq>&epoch=<its snapshot's>, and keeps its state if the
 * process it lands on sends the ticks it missed, else takes the snapshot it sends) and the
 * events stream (/ws/events, resumed after the last id seen). Between ticks every runner is
 * moved here (distance + speed × elapsed race time, held short of the next timing point until read
 * there), so the server never sends positions it can predict: it mirrors this extrapolation and
 * resends a runner only once he is POSITION_RESEND_M from where he is drawn (a correction). Both
 * sockets reconnect by themselves and say so in #conn. Everything a user or a runner can name is set
 * as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var REDRAW_MS = 500;         // move the dots twice a second
  var MAT_POLL_MS = 5000;
  var LATERAL_M = 9;           // half the width a pack takes on one carriageway
  var HOLD_SHORT_M = 3;        // an unread runner waits this far before the next timing point
  var MAX_COAST_S = 5;         // no tick for this long (wall time): stop extrapolating
  var RUNNING = { started: 1, safe: 1, at_risk: 1, doomed: 1, caught: 1 };
  var TICKER_MAX = 3000;     // story events kept (catches in one tick are grouped into one line)
  var TICKER_LINES = 100;
  var ALERTS_MAX = 200;

  // The page's language and the translations of its scripts' messages, loaded just before them
  // (i18n-<lang>-<page>.js, dashboard/language.py): T("English text", {field: value}).
  var I18N = (function () {
    if (window.pursuitI18n) return window.pursuitI18n;  // the page's dictionary script (dashboard/page_assets.py)
    try { return JSON.parse(document.getElementById("pursuit-i18n").textContent); } catch (e) { return {}; }
  })();
  var LANG = I18N.lang || document.documentElement.lang || "en";
  function T(s, params) {
    var out = (I18N.messages && I18N.messages[s]) || s;
    return params ? out.replace(/\{(\w+)\}/g, function (w, k) { return params[k] === undefined ? w : String(params[k]); }) : out;
  }
  var NUM = new Intl.NumberFormat(LANG), NUMS = {};
  function fmtFixed(x, digits) {  // 4.68 / 4,68: the page language's decimals
    if (x === null || x === undefined || !isFinite(x)) return "–";
    var f = NUMS[digits] || (NUMS[digits] = new Intl.NumberFormat(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
    return f.format(x);
  }
  function fmtKm(m, digits) { return m === null || m === undefined ? "–" : fmtFixed(m / 1000, digits === undefined ? 2 : digits) + " km"; }

  var meta = null, course = null;
  var roster = null, rowOf = {};
  var S = { seq: -1, n: 0 };
  var live = { ws: null, open: false, retry: 0, timer: null };
  var feed = { gzip: typeof DecompressionStream === "function", binary: 0,  // snapshots as gzip; how many came
               resume: -1, resumed: 0 };  // the seq held when the feed dropped; reconnections that kept the state
  var events = { ws: null, open: false, retry: 0, last: null, timer: null };
  var follow = { bibs: withShared(loadList("pursuit.follow")), detail: {}, seen: loadSeen(), live: {}, notices: [] };
  var DONE = { caught: T("caught"), won: T("home before the pursuer"), finished: T("finished"), dnf: T("stopped (DNF)") };
  var STATUS = { registered: T("registered"), started: T("running"), ahead: T("ahead"), caught: T("caught"), won: T("won"),
                 finished: T("finished"), dnf: T("stopped (DNF)"), dq: T("disqualified"), waiting: T("waiting"), running: T("running") };
  function statusText(s) { return LANG === "en" ? s : STATUS[s] || s; }  // English: the API's own word
  var escapes = [];
  var frames = [];  // how long each redraw took (ms), for pursuit bench browser
  var acks = {};  // alert event id -> who acknowledged it, for every screen (from the admin events)

  // ---- small helpers -------------------------------------------------------------------------

  function sharedBibs() {  // /follow?bib=1234,121: a shared link opens with those runners followed
    var q = new URLSearchParams(location.search).get("bib");
    if (!q) return [];
    return q.split(",").map(function (b) { return b.trim(); }).filter(function (b) { return /^[A-Za-z0-9-]{1,16}$/.test(b); });
  }
  function withShared(kept) {
    var shared = sharedBibs(), out = shared.slice();
    kept.forEach(function (b) { if (out.indexOf(b) < 0) out.push(b); });
    if (shared.length) { try { localStorage.setItem("pursuit.follow", JSON.stringify(out.slice(0, 50))); } catch (e) { /* private mode */ } }
    return out.slice(0, 50);
  }
  function loadSeen() {  // bib -> the last status this browser showed (to tell what happened while away)
    try { var v = JSON.parse(localStorage.getItem("pursuit.seen") || "{}"); return v && typeof v === "object" && !Array.isArray(v) ? v : {}; } catch (e) { return {}; }
  }

  function $(id) { return document.getElementById(id); }
  function loadList(key) {
    try { var v = JSON.parse(localStorage.getItem(key) || "[]"); return Array.isArray(v) ? v.map(String) : []; }
    catch (e) { return []; }
  }
  function saveList(key, list) { try { localStorage.setItem(key, JSON.stringify(list)); } catch (e) { /* private mode */ } }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(id, text) { var e = $(id); if (e && e.textContent !== text) e.textContent = text; }
  function fmtInt(n) { return n === null || n === undefined ? "–" : NUM.format(Math.round(n)); }
  function fmtDur(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(x).padStart(2, "0");
  }
  function fmtSigned(s) { return (s >= 0 ? "+" : "−") + fmtDur(Math.abs(s)); }
  function hash(s) {  // FNV-1a: a stable sideways offset per bib
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h / 4294967296;
  }
  function base() { return (meta && meta.base) || ""; }  // "/races/10k" on an event's other races
  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base() + path; }
  function backoff(n) { return Math.min(10000, 500 * Math.pow(2, n)) * (0.75 + Math.random() / 2); }

  // ---- the race and the course ---------------------------------------------------------------

  function readMeta() {
    var m = $("race-meta");
    if (!m) return false;
    meta = JSON.parse(m.getAttribute("data-race"));
    var c = JSON.parse(m.getAttribute("data-course"));
    var n = c.d.length, nx = new Float64Array(n), ny = new Float64Array(n);
    for (var i = 0; i < n; i++) {  // unit normal of the course at each sample
      var a = Math.max(0, i - 1), b = Math.min(n - 1, i + 1);
      var dx = c.x[b] - c.x[a], dy = c.y[b] - c.y[a], len = Math.hypot(dx, dy) || 1;
      nx[i] = dy / len; ny[i] = -dx / len;
    }
    course = { d: c.d, x: c.x, y: c.y, nx: nx, ny: ny, step: c.d[n - 1] / (n - 1), n: n };
    return true;
  }

  function place(d, off, out, k) {  // course distance + sideways offset -> projected x, y
    var f = Math.min(Math.max(d / course.step, 0), course.n - 1), i = Math.min(Math.floor(f), course.n - 2), t = f - i;
    out.x[k] = course.x[i] + (course.x[i + 1] - course.x[i]) * t + course.nx[i] * off;
    out.y[k] = course.y[i] + (course.y[i + 1] - course.y[i]) * t + course.ny[i] * off;
  }

  function capFor(d) {  // where an unread runner at d waits: just short of the next timing point
    var pts = meta.timing_at_m;
    for (var i = 0; i < pts.length; i++) if (pts[i] > d + 0.5) return pts[i] - HOLD_SHORT_M;
    return meta.distance_m;
  }

  // ---- live state ----------------------------------------------------------------------------

  function raceNow() {  // race time now, from the last tick and the race clock's measured rate
    if (!S.wallAt) return S.now || 0;
    var wall = Math.min((performance.now() - S.wallAt) / 1000, MAX_COAST_S);
    return S.now + wall * (S.rate || 1);
  }

  // A tick resends a runner's position only once it is POSITION_RESEND_M from where runnerDistance
  // draws him (the server mirrors this extrapolation, web/feed_rows.py): such a row is a correction
  var moves = { rows: 0, corrections: 0, last: null };
  var POSITION_RESEND_M = 25;

  function setRows(rows, body, now, tick) {
    for (var j = 0; j < rows.length; j++) {
      var r = rows[j];
      var d = body.distance_m[j] === null ? 0 : body.distance_m[j];
      if (tick) {
        var drawn = runnerDistance(r, now);
        moves.rows += 1;
        if (Math.abs(d - drawn) > POSITION_RESEND_M) { moves.corrections += 1; moves.last = { row: r, drawn: drawn, sent: d }; }
      }
      S.status[r] = body.status[j];
      if (body["class"]) S.cls[r] = body["class"][j];
      S.dist[r] = d;
      S.speed[r] = (body.speed_dm_s[j] || 0) / 10;
      S.margin[r] = body.margin_s[j] === null ? NaN : body.margin_s[j];
      S.winPct[r] = body.win_pct && body.win_pct[j] !== null ? body.win_pct[j] : -1;
      S.t0[r] = now;
      S.cap[r] = capFor(S.dist[r]);
    }
  }

  function onSnapshot(m) {
    feed.resume = -1;
    if (!roster || roster.bibs.length !== m.status.length) { S.seq = -1; loadRoster(true); return; }
    var n = m.status.length;
    S.n = n; S.seq = m.seq; S.epoch = m.epoch; S.statuses = m.statuses; S.classes = m.classes || meta.classes;
    S.status = new Int8Array(n); S.cls = new Int8Array(n); S.dist = new Float64Array(n); S.speed = new Float64Array(n);
    S.margin = new Float64Array(n); S.t0 = new Float64Array(n); S.cap = new Float64Array(n);
    S.winPct = new Int16Array(n);
    var all = new Array(n); for (var i = 0; i < n; i++) all[i] = i;
    if (!m["class"]) m["class"] = m.status.map(function (s) { return statusToClass(s); });
    setRows(all, m, m.now);
    onCommon(m);
  }

  function statusToClass(code) {
    var name = S.statuses[code];
    var k = S.classes.indexOf(name === "ahead" ? "safe" : name);
    return k < 0 ? 1 : k;
  }

  function onTick(m) {
    var held = S.seq >= 0 ? S.seq : feed.resume;  // just reconnected: the state held when the feed dropped
    if (S.seq < 0 && feed.resume >= 0 && m.seq === held + 1) feed.resumed += 1;
    feed.resume = -1;
    if (m.seq !== held + 1) {  // a gap: the state may be wrong, ask for all of it again
      S.seq = -1;
      send(live, { resync: true });
      return;
    }
    S.seq = m.seq;
    var c = m.changed;
    if (!c["class"]) c["class"] = c.status.map(function (s) { return statusToClass(s); });
    setRows(c.index, c, m.now, true);
    if (m.win) for (var j = 0; j < m.win.index.length; j++) S.winPct[m.win.index[j]] = m.win.pct[j];
    if (m.margin) for (var k = 0; k < m.margin.index.length; k++) {  // runners whose margin alone moved
      var ms = m.margin.margin_s[k];
      S.margin[m.margin.index[k]] = ms === null ? NaN : ms;
    }
    onCommon(m);
  }

  function onCommon(m) {
    var wall = performance.now();
    if (S.wallAt && m.now > S.now) {
      var rate = (m.now - S.now) / Math.max((wall - S.wallAt) / 1000, 0.05);
      S.rate = S.rate ? 0.7 * S.rate + 0.3 * rate : rate;
    }
    S.now = m.now; S.wallAt = wall;
    // a race without a pursuer sends null for both: nothing to draw, no forecast to show
    S.pursuer = m.pursuer ? Object.assign(S.pursuer || {}, m.pursuer) : null;
    S.counts = m.counts; S.forecast = m.forecast ? Object.assign(S.forecast || {}, m.forecast) : null;
    S.pursuerAt = m.now;
    if (m.elapsed_s !== undefined) S.elapsed0 = m.now - m.elapsed_s;
    stories();
  }

  // ---- sockets -------------------------------------------------------------------------------

  function send(chan, obj) { if (chan.ws && chan.open) chan.ws.send(JSON.stringify(obj)); }

  function connState() {
    var c = $("conn");
    if (!c) return;
    var text, cls;
    if (live.open && S.seq >= 0) { text = T("live"); cls = "conn conn-ok"; }
    else if (live.retry > 0) { text = T("connection lost — reconnecting…"); cls = "conn conn-lost"; }
    else { text = T("connecting…"); cls = "conn conn-wait"; }
    if (live.open && events.retry > 0 && !events.open) { text = T("live · events reconnecting…"); cls = "conn conn-wait"; }
    if (c.textContent !== text) c.textContent = text;
    if (c.className !== cls) c.className = cls;
    // numbers already shown stay, greyed, while the feed is down: they are no longer live
    var stale = !(live.open && S.seq >= 0) && !!S.counts;
    if (document.body.classList.contains("feed-stale") !== stale) document.body.classList.toggle("feed-stale", stale);
  }

  function loadRoster(force) {
    if (roster && !force) return Promise.resolve(roster);
    return fetch(base() + "/api/roster").then(function (r) {
      if (!r.ok) throw new Error("GET /api/roster: HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      roster = body; rowOf = {};
      for (var i = 0; i < body.bibs.length; i++) rowOf[body.bibs[i]] = i;
      roster.offsets = body.bibs.map(function (b) { return (hash(b) * 2 - 1) * LATERAL_M; });
      renderCards();  // a followed bib not in it can say so now
      if (force) send(live, { resync: true });
      return roster;
    });
  }

  function onLive(text) {
    var m = JSON.parse(text);
    if (m.type === "snapshot") onSnapshot(m);
    else if (m.type === "tick") onTick(m);
    else if (m.type === "follow") onFollow(m);
    else if (m.type === "error") console.warn("live feed: " + m.message);
    connState();
  }

  function gunzip(data) {  // a gzip (ArrayBuffer) -> a promise of its text
    return new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  }

  function openLive() {
    clearTimeout(live.timer);
    loadRoster(false).then(function () {
      var query = [];
      if (feed.gzip) query.push("encoding=gzip");
      if (feed.resume >= 0) {  // continue from the seq held, in the numbering of the snapshot it came from
        query.push("after=" + feed.resume);
        if (S.epoch) query.push("epoch=" + encodeURIComponent(S.epoch));
      }
      var ws = new WebSocket(wsUrl("/ws/live" + (query.length ? "?" + query.join("&") : "")));
      ws.binaryType = "arraybuffer";
      live.ws = ws;
      // a gzipped snapshot decodes asynchronously: what comes meanwhile waits here, and is applied in order after it
      var pending = [], decoding = false;
      function drain() {
        while (!decoding && pending.length && live.ws === ws) {
          var data = pending.shift();
          if (typeof data === "string") { onLive(data); continue; }
          decoding = true; feed.binary += 1;
          gunzip(data).then(function (text) {
            decoding = false;
            if (live.ws === ws) onLive(text);
            drain();
          }, function (err) {
            decoding = false;
            console.warn("live feed: a snapshot did not decode (" + err + "); asking for another");
            S.seq = -1; feed.resume = -1; send(live, { resync: true });
            drain();
          });
        }
      }
      ws.onopen = function () { live.open = true; live.retry = 0; if (follow.bibs.length) send(live, { follow: follow.bibs }); connState(); };
      ws.onmessage = function (e) { pending.push(e.data); drain(); };
      ws.onclose = function () {
        if (S.seq >= 0) feed.resume = S.seq;  // kept: the next connection may continue from it
        live.open = false; live.ws = null; S.seq = -1; live.retry += 1; connState();
        live.timer = setTimeout(openLive, backoff(live.retry));
      };
    }).catch(function (err) {
      console.warn("pursuit: " + err.message); live.retry += 1; connState();
      live.timer = setTimeout(openLive, backoff(live.retry));
    });
  }

  function openEvents() {
    clearTimeout(events.timer);
    var ws = new WebSocket(wsUrl("/ws/events" + (events.last ? "?after=" + encodeURIComponent(events.last) : "")));
    events.ws = ws;
    ws.onopen = function () { events.open = true; events.retry = 0; connState(); };
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.type === "event") { events.last = m.id; onEvent(m); }
      else if (m.type === "error") console.warn("events feed: " + m.message);
    };
    ws.onclose = function () {
      events.open = false; events.ws = null; events.retry += 1; connState();
      events.timer = setTimeout(openEvents, backoff(events.retry));
    };
  }

  // ---- the map -------------------------------------------------------------------------------
  // Plotly (on /follow: assets/chart.js) draws what does not move (avenue, course, mats, legend) and owns zoom and pan;
  // the runners, the followed and the pursuer are drawn on a canvas laid over its plot area, so
  // moving 40,000 dots is one pass of fillRect, not a re-plot (measured in docs/BENCHMARKS.md).

  // marks: the boxes of the names drawn on the runners' layer this paint (the pursuer's, followed
  // bibs'); the map's place names under one are hidden (assets/map.js), not left half showing
  var GRAPH = "#map .js-plotly-plot, #map .course-map";  // plotly's graph, or /follow's own (assets/chart.js)
  var view = { gd: null, canvas: null, xs: null, ys: null, n: 0, px: null, py: null, tip: null, marks: [] };

  function pursuerDistance(now) {
    var p = S.pursuer;
    if (!p || p.distance_m === null || p.distance_m === undefined) return null;
    if (p.status !== "running" || !p.pace_s_per_km) return p.distance_m;
    var coast = Math.max(0, now - S.pursuerAt);
    return Math.min(meta.distance_m, p.distance_m + (1000 / p.pace_s_per_km) * coast);
  }

  function runnerDistance(r, now) {
    var d = S.dist[r];
    if (!RUNNING[S.classes[S.cls[r]]] || S.speed[r] <= 0) return d;
    return Math.min(d + S.speed[r] * Math.max(0, now - S.t0[r]), Math.max(S.cap[r], d));
  }

  function attach(gd) {  // a new graph div (first render, or Dash rendered the page again)
    view.gd = gd;
    var c = document.createElement("canvas");
    c.className = "runners-layer";
    c.setAttribute("aria-label", T("runners on the course"));
    gd.style.position = "relative";
    gd.appendChild(c);
    view.canvas = c;
    if (gd.on) {
      gd.on("plotly_relayout", paint);
      gd.on("plotly_relayouting", paint);
      gd.on("plotly_afterplot", paint);
    } else {  // /follow's own map (assets/chart.js)
      gd.addEventListener("mapview", paint);
    }
    gd.addEventListener("mousemove", hover);
    pollMats();
    gd.addEventListener("mouseleave", function () { if (view.tip) view.tip.hidden = true; });
  }

  function frame() { return window.pursuitMap.frame(view.gd); }  // assets/map.js

  function paint() {  // draw the last computed positions with the current zoom
    var gd = view.gd, c = view.canvas;
    if (!gd || !c || !view.xs) return;
    var f = frame();
    if (!f) return;
    var dpr = window.devicePixelRatio || 1, W = gd.clientWidth, H = gd.clientHeight;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.width = W + "px"; c.style.height = H + "px";
    }
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.save();
    ctx.beginPath(); ctx.rect(f.l, f.t, f.w, f.h); ctx.clip();
    var n = view.n, px = view.px, py = view.py, xs = view.xs, ys = view.ys;
    for (var i = 0; i < n; i++) { px[i] = f.l + (xs[i] - f.x0) * f.kx; py[i] = f.t + (f.y1 - ys[i]) * f.ky; }
    var size = n > 10000 ? 3 : 4, half = size / 2;
    for (var k = 0; k < meta.colours.length; k++) {  // one fill per status: its colour and its shape
      var shape = SHAPES[(meta.shapes || [])[k]] || SHAPES.square, big = shape === SHAPES.square || n > 10000 ? half : half + 1;
      ctx.fillStyle = meta.colours[k];
      ctx.beginPath();
      // rectangles in one path; other shapes filled 64 at a time: one path of 40,000 triangles takes
      // Chromium's software raster ~5 s, 64 at a time ~25 ms in all
      var every = shape === SHAPES.square || shape === SHAPES.x ? Infinity : 64;
      for (var r = 0, m = 0; r < n; r++) {
        if (S.cls[r] !== k) continue;
        shape(ctx, px[r], py[r], big);
        if (++m % every === 0) { ctx.fill(); ctx.beginPath(); }
      }
      ctx.fill();
    }
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.lineWidth = 3;
    view.marks = [];
    follow.bibs.forEach(function (b) {
      var r = rowOf[b];
      if (r === undefined || r >= n) return;
      ctx.strokeStyle = "#6a0dad"; ctx.fillStyle = "#6a0dad";
      ctx.beginPath(); ctx.arc(px[r], py[r], 9, 0, 2 * Math.PI); ctx.stroke();
      beside(ctx, f, b, px[r], py[r], 11, [-8, 24], 15);
    });
    if (view.pd !== null && meta.pursuer) {
      var x = f.l + (view.pxy[0] - f.x0) * f.kx, y = f.t + (f.y1 - view.pxy[1]) * f.ky;
      ctx.fillStyle = "#111111"; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 2;
      star(ctx, x, y, 14, 6);
      ctx.font = "700 18px system-ui, sans-serif";
      beside(ctx, f, meta.pursuer.name, x, y, 16, [22, -18], 18);
    }
    ctx.restore();
    view.painted = n;
  }

  // A name beside a mark at (x, y): right of it by dx, its baseline dys[0] below (negative: above), or
  // where the plot area would cut it off, on the left and at dys[1] (the pursuer at the Concorde on a
  // phone).
  // the runners' shapes (dashboard/figures.py CLASS_SHAPES), each a sub-path of one fill
  var SHAPES = {
    square: function (ctx, x, y, h) { ctx.rect(x - h, y - h, 2 * h, 2 * h); },
    "triangle-up": function (ctx, x, y, h) { ctx.moveTo(x, y - h - 1); ctx.lineTo(x + h + 1, y + h); ctx.lineTo(x - h - 1, y + h); ctx.closePath(); },
    diamond: function (ctx, x, y, h) { ctx.moveTo(x, y - h - 1); ctx.lineTo(x + h + 1, y); ctx.lineTo(x, y + h + 1); ctx.lineTo(x - h - 1, y); ctx.closePath(); },
    x: function (ctx, x, y, h) { var t = Math.max(1, h / 2); ctx.rect(x - h, y - t / 2, 2 * h, t); ctx.rect(x - t / 2, y - h, t, 2 * h); },
    circle: function (ctx, x, y, h) { ctx.moveTo(x + h, y); ctx.arc(x, y, h, 0, 2 * Math.PI); },
  };

  function beside(ctx, f, text, x, y, dx, dys, size) {
    var w = ctx.measureText(text).width, right = f.l + f.w - 2, bottom = f.t + f.h - 2;
    var lx = x + dx + w <= right ? x + dx : x - dx - w;
    var fits = function (dy) { return y + dy - size >= f.t + 2 && y + dy + 4 <= bottom; };
    var ly = y + (fits(dys[0]) || !fits(dys[1]) ? dys[0] : dys[1]);
    lx = Math.max(f.l + 2, Math.min(lx, right - w));
    view.marks.push([lx - 3, ly - size, lx + w + 3, ly + 5]);
    halo(ctx, text, lx, ly);
  }

  function halo(ctx, text, x, y) {  // text readable over the map: a white rim, then the text
    ctx.save();
    ctx.lineWidth = 4; ctx.lineJoin = "round"; ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.strokeText(text, x, y);
    ctx.restore();
    ctx.fillText(text, x, y);
  }

  function star(ctx, x, y, R, r) {
    ctx.beginPath();
    for (var i = 0; i < 10; i++) {
      var a = -Math.PI / 2 + i * Math.PI / 5, rad = i % 2 ? r : R;
      ctx.lineTo(x + rad * Math.cos(a), y + rad * Math.sin(a));
    }
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }

  function hover(e) {  // the nearest runner under the pointer, as a text tooltip
    if (!view.px || !roster) return;
    var rect = view.gd.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
    var best = -1, bestD = 64;  // within 8 px
    for (var i = 0; i < view.n; i++) {
      var dx = view.px[i] - x, dy = view.py[i] - y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (!view.tip || !view.gd.contains(view.tip)) { view.tip = el("div", "map-tip"); view.gd.appendChild(view.tip); }
    if (best < 0) { view.tip.hidden = true; return; }
    var m = S.margin[best], cls = S.classes[S.cls[best]], w = S.winPct ? S.winPct[best] : -1;
    var open = RUNNING[cls] && cls !== "caught" && !!meta.pursuer;
    var label = (meta.class_labels || [])[S.cls[best]] || cls.replace("_", " ");
    view.tip.textContent = roster.bibs[best] + " " + roster.names[best] + " · " + T("pen {pen}", { pen: roster.pens[best] }) + " · " +
      label + (isFinite(m) && open ? " · " + T("margin {margin}", { margin: fmtSigned(m) }) : "") +
      (w >= 0 && open ? " · " + T("{pct} % to beat him", { pct: w }) : "");
    view.tip.style.left = (x + 12) + "px"; view.tip.style.top = (y + 12) + "px";
    view.tip.hidden = false;
  }

  function redraw() {  // move everyone to now, then paint
    var gd = document.querySelector(GRAPH);
    if (!gd || !window.pursuitMap.frame(gd) || !course || S.seq < 0 || !roster) return;
    if (gd !== view.gd || !gd.contains(view.canvas)) attach(gd);
    var started = performance.now();
    var n = S.n, now = raceNow();
    if (view.n !== n || !view.xs) {
      view.n = n; view.xs = new Float64Array(n); view.ys = new Float64Array(n);
      view.px = new Float64Array(n); view.py = new Float64Array(n);
    }
    var pos = { x: view.xs, y: view.ys };
    for (var r = 0; r < n; r++) place(runnerDistance(r, now), roster.offsets[r], pos, r);
    view.pd = pursuerDistance(now);
    if (view.pd !== null) { var pp = { x: [0], y: [0] }; place(view.pd, 0, pp, 0); view.pxy = [pp.x[0], pp.y[0]]; }
    paint();
    frames.push(performance.now() - started);
    summarise(gd, n);
    if (frames.length > 1000) frames.shift();
  }

  // What the map shows, in words, for screen readers (the canvas says nothing to them).
  function summarise(gd, n) {  // every 2 s: a screen reader needs no more
    var now = Date.now();
    if (view.said && now - view.said < 2000) return;
    view.said = now;
    var map = gd.closest("#map") || gd, box = $("map-summary"), by = {}, parts = [];
    if (!box) {  // beside the map, not on it: the map holds plotly's controls (role=img would hide them)
      box = el("p", "sr-only"); box.id = "map-summary";
      map.parentElement.insertBefore(box, map);
    }
    for (var r = 0; r < n; r++) by[S.cls[r]] = (by[S.cls[r]] || 0) + 1;
    (meta.class_labels || []).forEach(function (label, k) { if (by[k] && k > 0) parts.push(fmtInt(by[k]) + " " + label); });
    var text = T("Course map: {n} runners", { n: fmtInt(n) }) + (parts.length ? " (" + parts.join(", ") + ")" : "") +
      (view.pd !== null && meta.pursuer ? "; " + T("{name} at {km}", { name: meta.pursuer.name, km: fmtKm(view.pd, 1) }) : "");
    if (box.textContent !== text) box.textContent = text;
  }

  // An event's text in the page's language: the feed's (English) text, or, in another language, the
  // text written again from its kind and fields with the template the page carries (i18n/events.py).
  function pursuerName() { var them = T("the pursuer"); return meta && meta.pursuer ? meta.pursuer.name : them; }
  function eventText(m) {
    if (LANG === "en" || !I18N.events || m.written) return m.text;
    var key = m.kind;
    if (key === "milestone") key = m.won === 1 ? "milestone_one" : m.won ? "milestone_won" : "milestone_first";
    var template = I18N.events[key];
    if (!template) return m.text;
    var text = T(template, {
      pursuer: pursuerName(), name: m.name, bib: m.bib, pen: m.pen,
      km: fmtKm(m.at_m), place: ((meta && meta.mat_names) || {})[m.mat] || m.mat, split: fmtDur(m.split_s),
      won: fmtInt(m.won), winners: fmtInt(m.winners), low: fmtInt(m.low), high: fmtInt(m.high), running: fmtInt(m.running),
      margin: fmtFixed(m.margin_s, 2), clock_offset_s: fmtFixed(m.clock_offset_s, 2), silent_s: fmtInt(m.silent_s),
      address: m.address, errors: fmtInt(m.errors), chip: m.chip, reads: fmtInt(m.reads), used_mb: fmtInt(m.used_mb),
      maxmemory_mb: fmtInt(m.maxmemory_mb), entries: fmtInt(m.entries), cap: fmtInt(m.cap)
    });
    return /\{\w+\}|–\.$/.test(text) ? m.text : text;  // a field the event lacks: its own (English) text, not a hole
  }

  // ---- mat health ----------------------------------------------------------------------------

  // a mat's state on race control: online (connected, read in the last 2 minutes), quiet (connected,
  // nothing read since: normal before the field arrives, the mat_silent alert says when it is not),
  // disconnected (its reader has gone after reading), not seen (no reader yet)
  var MAT_STATES = {
    "online": "#2ca02c", "quiet": "#e08e0b", "disconnected": "#d62728", "not seen": "#b0b7c3"
  };

  function matState(m) {
    if (m.online) return "online";
    if (m.connected) return "quiet";
    return m.reads > 0 ? "disconnected" : "not seen";
  }

  function matStateText(s) {
    return { online: T("online"), quiet: T("quiet"), disconnected: T("disconnected"), "not seen": T("not seen") }[s] || s;
  }
  function matColour(m) { return MAT_STATES[matState(m)]; }

  function pollReaders() {  // race control: the readers whose input was refused (name, address, why)
    var box = $("reader-errors");
    if (!box) return;
    fetch(base() + "/api/readers").then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (!d) return;
      var parts = [];
      if (d.readers.length) {
        var t = el("table", "table"), head = el("tr"), thead = el("thead"), tb = el("tbody");
        [T("reader"), T("address"), T("refused"), T("last error"), T("at")].forEach(function (h) { head.appendChild(el("th", null, h)); });
        thead.appendChild(head); t.appendChild(thead);
        d.readers.forEach(function (r) {
          var tr = el("tr");
          [r.who, r.address, fmtInt(r.errors), r.last_error, r.last_error_at ? r.last_error_at.slice(11, 19) : "–"]
            .forEach(function (c, i) { var td = el("td", i === 3 ? "reader-error" : null, c); if (i === 3) td.title = c; tr.appendChild(td); });
          tb.appendChild(tr);
        });
        t.appendChild(tb);
        parts.push(t);
      } else {
        parts.push(el("p", "muted", T("no reader has sent refused input")));
      }
      if (d.unplaced.errors) parts.push(el("p", "muted", T("{n} refused before their mat was known: {error}", { n: fmtInt(d.unplaced.errors), error: d.unplaced.last_error })));
      box.replaceChildren.apply(box, parts);
    }).catch(function () { /* the connection state says enough */ });
  }

  function pollMats() {
    pollReaders();
    var gd = document.querySelector("#map .js-plotly-plot"), table = $("mat-table");  // /follow's map shows no mat health
    if (!gd && !table) return;
    fetch(base() + "/api/mats").then(function (r) { return r.ok ? r.json() : null; }).then(function (mats) {
      if (!mats) return;
      if (gd && gd.data) {
        var mi = gd.data.findIndex(function (t) { return t.name === "mats"; });
        if (mi >= 0) {
          var byId = {}; mats.forEach(function (m) { byId[m.id] = m; });
          var colours = (gd.data[mi].customdata || []).map(function (id) { return byId[id] ? matColour(byId[id]) : "#b0b7c3"; });
          Plotly.restyle(gd, { "marker.color": [colours] }, [mi]);
        }
      }
      if (table) {
        var t = el("table", "table"), head = el("tr");
        [T("mat"), T("state"), T("last read"), T("reads/s"), T("passings"), T("unknown"), T("errors"), T("clock")].forEach(function (h) { head.appendChild(el("th", null, h)); });
        var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
        var tb = el("tbody");
        mats.forEach(function (m) {
          var tr = el("tr");
          var state = matState(m);
          var cells = [m.id, matStateText(state), m.last_read_age_s === null ? T("never") : T("{duration} ago", { duration: fmtDur(m.last_read_age_s) }),
            m.reads_per_s === null ? "–" : m.reads_per_s, fmtInt(m.passings), fmtInt(m.unknown_chips), fmtInt(m.errors),
            m.clock_offset_s === null ? "–" : fmtFixed(m.clock_offset_s, 2) + " s"];
          cells.forEach(function (c, i) {
            var td = el("td", i === 1 ? "mat-" + state.replace(" ", "-") : null, c);
            if (i === 6 && m.last_error) td.title = m.last_error;
            tr.appendChild(td);
          });
          tb.appendChild(tr);
        });
        t.appendChild(tb);
        table.replaceChildren(t);
      }
    }).catch(function () { /* the connection state says enough */ });
  }

  // ---- events: commentary ticker, closest escapes, race-control alerts ------------------------

  function onEvent(m) {
    if (m.kind === "admin") {  // race control acted: done by whoever did it; an acknowledgement marks its alert
      if (m.action === "ack_alert") { if (!acks[m.event]) acks[m.event] = m.operator || "race control"; dirty.alerts = true; return; }
      acks[m.id] = m.operator || T("race control");
    }
    if (m.level === "alert") addAlert(m);
    else if (meta && meta.story_kinds.indexOf(m.kind) >= 0) addStory(m);
  }

  var stories_ = [], alerts_ = [], dirty = { ticker: false, alerts: false };  // rendered at most twice a second

  function addStory(m) {
    stories_.push(m);
    if (stories_.length > TICKER_MAX) stories_.shift();
    if (m.kind === "close_escape") { escapes.push(m); escapes.sort(function (a, b) { return a.margin_s - b.margin_s; }); escapes = escapes.slice(0, 10); }
    if (m.kind === "pursuer_split") S.lastSplit = m;
    dirty.ticker = true;
  }

  function groupCatches(list) {  // a pack caught in the same tick is one line, not twenty
    var out = [];
    list.forEach(function (m) {
      var last = out[out.length - 1];
      if (m.kind === "caught" && last && last.kind === "caught" && last.time === m.time) {
        last.group.push(m);
      } else {
        out.push(m.kind === "caught" ? { kind: "caught", time: m.time, text: m.text, group: [m] } : m);
      }
    });
    return out.map(function (g) {
      if (!g.group || g.group.length === 1) return g.group ? g.group[0] : g;
      var km = g.group.map(function (m) { return m.at_m; });
      var lo = fmtKm(Math.min.apply(null, km)), hi = fmtKm(Math.max.apply(null, km));
      var names = g.group.slice(0, 4).map(function (m) { return m.name + " (" + m.bib + ")"; }).join(", ");
      var more = g.group.length > 4 ? T(" and {n} more", { n: g.group.length - 4 }) : "";
      return { kind: "caught", time: g.time, written: true,  // in the page's language already
        text: T("{pursuer} catches {n} runners at {km}: {names}{more}.", { pursuer: pursuerName(),
          n: g.group.length, km: lo === hi ? lo : lo + "–" + hi, names: names, more: more }) };
    });
  }

  function renderTicker() {
    var list = $("ticker");
    if (list) {
      var items = groupCatches(stories_.slice().reverse()).slice(0, TICKER_LINES).map(function (m) {
        var li = el("li", "ev ev-" + m.kind);
        li.appendChild(el("span", "ev-time", (m.time || "").slice(11, 19)));
        li.appendChild(el("span", "ev-text", eventText(m)));
        return li;
      });
      list.replaceChildren.apply(list, items);
    }
    var esc = $("escapes");
    if (esc) esc.replaceChildren.apply(esc, escapes.map(function (m) { return el("li", null, eventText(m)); }));
    if (S.lastSplit) setText("story-split", eventText(S.lastSplit));
  }

  function addAlert(m) {
    alerts_.push(m);
    if (alerts_.length > ALERTS_MAX) alerts_.shift();
    dirty.alerts = true;
  }

  function renderAlerts() {
    // acknowledgements are shared (stored in Redis, announced on the events stream); only a screen
    // signed in to race control (assets/console.js) has the button
    var list = $("alerts");
    if (!list) return;
    var signedIn = !!(window.pursuitConsole && window.pursuitConsole.operator());
    var onlyOpen = !!($("alerts-open-only") && $("alerts-open-only").checked);
    var open = 0, items = [], done_ = [];
    alerts_.slice().reverse().forEach(function (m) {
      var by = acks[m.id];
      if (!by) open += 1;
      if (by && onlyOpen) return;
      var li = el("li", by ? "alert alert-acked" : "alert");
      li.setAttribute("data-event", m.id);
      li.appendChild(el("span", "ev-time", (m.time || "").slice(11, 19)));
      li.appendChild(el("span", "ev-text", eventText(m)));
      if (by) li.appendChild(el("span", "ack-by", m.kind === "admin" ? "by " + by : "acknowledged by " + by));
      else if (signedIn) {
        var b = el("button", "ack admin-control", T("acknowledge"));
        b.type = "button";
        b.addEventListener("click", function () { window.pursuitConsole.ack(m); });
        li.appendChild(b);
      }
      (by ? done_ : items).push(li);
    });
    items = items.concat(done_);  // open alerts first
    list.replaceChildren.apply(list, items);
    setText("alert-count", open ? String(open) : "");
  }

  // ---- commentary story numbers --------------------------------------------------------------

  function nextPen(pd) {
    // the nearest pen ahead that he has not reached yet (nobody of it caught): where its rearmost
    // runner still out is, and how fast that runner goes
    if (!roster || pd === null) return null;
    var rear = {}, reached = {};
    for (var r = 0; r < S.n; r++) {
      var name = S.statuses[S.status[r]], pen = roster.pens[r];
      if (name === "caught") { reached[pen] = true; continue; }
      if (name !== "started" && name !== "ahead" && name !== "registered") continue;
      var d = name === "registered" ? 0 : S.dist[r];
      if (d >= pd && (rear[pen] === undefined || d < rear[pen].d)) rear[pen] = { d: d, speed: S.speed[r] };
    }
    var best = null;
    Object.keys(rear).forEach(function (pen) {
      if (!reached[pen] && (!best || rear[pen].d < best.d)) best = { pen: pen, d: rear[pen].d, speed: rear[pen].speed };
    });
    return best;
  }

  var STORY_IDS = ["story-won", "story-forecast", "story-pursuer", "story-next-pen", "story-caught"];

  function leaderOnCourse() {  // a race without a pursuer: the running runner furthest along, or null
    var best = -1;
    for (var r = 0; r < S.n; r++) {
      if (S.statuses[S.status[r]] === "started" && (best < 0 || S.dist[r] > S.dist[best])) best = r;
    }
    return best < 0 || !roster ? null : { bib: roster.bibs[best], name: roster.names[best], d: runnerDistance(best, raceNow()) };
  }

  function timedStories(c) {  // the commentary boxes of a race without a pursuer (dashboard/commentary.py STORY_TIMED)
    setText("story-won", fmtInt(c.finished));
    setText("story-won-sub", c.started ? T("of {n} started", { n: fmtInt(c.started) }) : "");
    setText("story-forecast", fmtInt(c.running));
    setText("story-forecast-sub", T("on the course"));
    var lead = leaderOnCourse();
    setText("story-pursuer", lead ? fmtKm(lead.d) : "–");
    setText("story-pursuer-sub", lead ? lead.bib + " " + lead.name : "");
    setText("story-next-pen", fmtInt(c.started));
    setText("story-next-pen-sub", T("of {n} registered", { n: fmtInt(c.registered) }));
    setText("story-caught", fmtInt(c.dnf));
    setText("story-caught-sub", c.dq ? T("{n} disqualified", { n: fmtInt(c.dq) }) : "");
  }

  function stories() {
    if (!$("story-won")) return;
    if (!S.counts) {  // nothing from the feed yet: claim nothing
      STORY_IDS.forEach(function (id) { setText(id, "–"); setText(id + "-sub", ""); });
      return;
    }
    if (!meta.pursuer) { timedStories(S.counts); return; }
    var c = S.counts, f = S.forecast || {}, p = S.pursuer || {};
    setText("story-won", fmtInt(c.won));
    setText("story-won-sub", c.started ? T("of {n} started", { n: fmtInt(c.started) }) : "");
    setText("story-caught", fmtInt(c.caught));
    setText("story-caught-sub", c.ahead ? T("{n} still ahead of him", { n: fmtInt(c.ahead) }) : "");
    setText("story-forecast", c.started ? fmtInt(f.winners) : "–");  // nobody started: nothing to forecast
    var band = !c.started || f.low === undefined || f.low === null ? "" : fmtInt(f.low) + "–" + fmtInt(f.high);
    setText("story-forecast-sub", band + (f.quota ? (band ? " · " : "") + T("quota {quota}", { quota: fmtInt(f.quota) }) : ""));
    if (f.milestones) {  // a catcher-car race: nobody wins; who is still running, and at the next milestone
      setText("story-won", fmtInt(c.running));
      var next = f.milestones.filter(function (m) { return !m.passed; })[0];
      setText("story-forecast", next && c.started ? fmtInt(Math.round(next.expected)) : "–");
      setText("story-forecast-sub", next ? T("at {km} ({low}–{high})", { km: fmtKm(next.at_m, 1), low: fmtInt(next.low), high: fmtInt(next.high) }) : T("the car is past every milestone"));
    }
    var pd = pursuerDistance(raceNow());
    setText("story-pursuer", pd === null ? "–" : fmtKm(pd));
    setText("story-pursuer-sub", [meta.pursuer.name, p.pace_s_per_km ? fmtDur(p.pace_s_per_km) + "/km" : "", p.status ? statusText(p.status) : ""]
      .filter(Boolean).join(" · "));
    var np = nextPen(pd), pens = {};
    meta.pens.forEach(function (x) { pens[x.id] = x.name; });
    if (!np) {
      var known = roster && pd !== null;  // else there is nothing to say yet
      setText("story-next-pen", !known ? "–" : p.status === "finished" ? T("race over") : T("every pen reached"));
      setText("story-next-pen-sub", "");
      return;
    }
    setText("story-next-pen", pens[np.pen] || T("pen {pen}", { pen: np.pen }));
    if (np.d === 0 && pd === 0) { setText("story-next-pen-sub", T("still at the start")); return; }
    var closing = (p.pace_s_per_km ? 1000 / p.pace_s_per_km : 0) - np.speed;
    var when = closing > 0 && p.status === "running" ? T(", at this rate in {duration}", { duration: fmtDur((np.d - pd) / closing) }) : "";
    setText("story-next-pen-sub", T("its last runner {m} m ahead", { m: fmtInt(np.d - pd) }) + when);
  }

  // ---- follow --------------------------------------------------------------------------------

  function onFollow(m) {
    m.runners.forEach(function (r) { follow.detail[r.bib] = r; noticeIfDone(r); });
    try { localStorage.setItem("pursuit.seen", JSON.stringify(follow.seen)); } catch (e) { /* private mode */ }
    renderCards();
  }

  // A followed runner caught or home while nobody watched (the page closed, or in a background
  // tab): a notice on the page, and the browser's notification when the user allowed them.
  function noticeIfDone(r) {
    var was = follow.seen[r.bib], now = r.status, first = !follow.live[r.bib];
    follow.live[r.bib] = true;  // first: this load's first news of him (it happened while the page was closed)
    follow.seen[r.bib] = now;
    if (was === undefined || was === now || !DONE[now] || DONE[was]) return;
    if (!first && !document.hidden) return;  // he saw it happen on the card
    var text = (r.name || r.bib) + " (" + r.bib + "): " + DONE[now] +
      (r.caught ? " " + T("at {km}", { km: fmtKm(r.caught.at_m) }) : "") +
      (r.finish ? " " + T("in {duration}", { duration: fmtDur(r.finish.net_s) }) : "");
    follow.notices.push(text);
    renderNotices();
    if (document.hidden && typeof Notification === "function" && Notification.permission === "granted") {
      try { new Notification("pursuit", { body: text, tag: "pursuit-" + r.bib }); } catch (e) { /* a phone wants a service worker */ }
    }
  }

  function renderNotices() {
    var box = $("follow-notices");
    if (!box) return;
    box.replaceChildren.apply(box, follow.notices.map(function (t) { return el("li", "notice", t); }));
    box.hidden = follow.notices.length === 0;
  }

  function shareLink() { return location.origin + base() + "/follow?bib=" + follow.bibs.map(encodeURIComponent).join(","); }

  function share() {
    var link = shareLink(), out = $("follow-share-link");
    if (out) { out.value = link; out.parentElement.hidden = false; out.select(); }
    var said = function (t) { setText("follow-share-status", t); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(link).then(function () { said(T("link copied")); }, function () { said(T("copy the link above")); });
    } else said(T("copy the link above"));
  }

  function setFollow(bibs) {
    follow.bibs = bibs.slice(0, 50);
    saveList("pursuit.follow", follow.bibs);
    send(live, { follow: follow.bibs });
    renderCards();
    redraw();
  }

  function card(bib) {
    var d = follow.detail[bib];
    var c = el("div", "card");
    c.setAttribute("data-bib", bib);
    var head = el("div", "card-head");
    head.appendChild(el("span", "card-bib", bib));
    head.appendChild(el("span", "card-name", d ? d.name : ""));
    var x = el("button", "card-remove", "×");
    x.type = "button"; x.title = T("stop following {bib}", { bib: bib });
    x.addEventListener("click", function () { setFollow(follow.bibs.filter(function (b) { return b !== bib; })); });
    head.appendChild(x);
    c.appendChild(head);
    if (!d) {  // a bib kept in this browser from another race (or mistyped) never gets a tick: say so
      var unknown = roster && rowOf[bib] === undefined && !(meta.pursuer && bib === meta.pursuer.bib);
      c.appendChild(el("div", "card-line", unknown ? T("no runner with bib {bib} in this race", { bib: bib }) : T("waiting for the next tick…")));
      return c;
    }
    c.appendChild(el("div", "card-status status-" + d.status, statusText(d.status) + (d.pen ? " · " + T("pen {pen}", { pen: d.pen }) : "")));
    var bar = el("div", "progress"), fill = el("div", "progress-fill");
    fill.style.width = Math.max(0, Math.min(100, 100 * (d.distance_m || 0) / meta.distance_m)).toFixed(1) + "%";
    bar.appendChild(fill); c.appendChild(bar);
    var byDistance = d.caught_at_m !== undefined;  // a catcher-car race: no finish, a result in km
    c.appendChild(el("div", "card-line card-distance", byDistance ? fmtKm(d.distance_m || 0) : T("{km} of {total}", { km: fmtFixed((d.distance_m || 0) / 1000, 2), total: fmtKm(meta.distance_m) })));
    var lines = [], over = (S.pursuer || {}).status === "finished", m = d.margin_s;
    if (d.place) lines.push(placeText(d));
    var known = function (v) { return v !== null && v !== undefined; };
    // once the runner is home or the pursuer is, the gap means nothing: the margin at the line does
    if (d.finish && known(m) && (over || d.status === "won")) {
      var by = Math.abs(m) < 10 ? fmtFixed(Math.abs(m), 2) + " s" : fmtDur(Math.abs(m));
      if (!over) lines.push(T("home before him: by about {by} if he keeps his pace", { by: by }));
      else if (d.status === "won") lines.push(T("beat him by {by}", { by: by }));
      else if (d.status === "caught") lines.push(T("finished {by} after him", { by: by }));
    }
    if (known(d.gap_m) && !d.finish && !over) {  // caught: how far behind him, not a "-106 m (0:00)" gap
      var behind = d.gap_m < 0, gs = known(d.gap_s) ? " (" + fmtDur(Math.abs(d.gap_s)) + ")" : "";
      lines.push((behind ? T("behind the pursuer: {m} m", { m: fmtInt(Math.abs(d.gap_m)) }) : T("gap to the pursuer: {m} m", { m: fmtInt(Math.abs(d.gap_m)) })) + gs);
    }
    var out = d.status === "started" || d.status === "ahead" || d.status === "registered";
    if (d.win_probability !== null && d.win_probability !== undefined && out) lines.push(T("{pct} % to beat him", { pct: Math.round(100 * d.win_probability) }));
    if (d.margin_s !== null && d.margin_s !== undefined && (d.status === "started" || d.status === "ahead")) lines.push(T("predicted finish margin: {margin}", { margin: fmtSigned(d.margin_s) }));
    if (d["catch"]) lines.push(T("caught at {km} in {duration} if nothing changes", { km: fmtKm(d["catch"].at_m), duration: fmtDur(d["catch"].in_s) }));
    if (d.caught) lines.push(T("caught at {km}", { km: fmtKm(d.caught.at_m, byDistance ? 1 : 2) }));
    var pc = d.predicted_catch, km1 = function (v) { return fmtFixed(v / 1000, 1); };
    if (pc && out) lines.push(T("predicted catch: {km} km ({low}–{high})", { km: km1(pc.at_m), low: km1(pc.low), high: km1(pc.high) }));
    if (d.finish) lines.push(T("finished in {duration} (net)", { duration: fmtDur(d.finish.net_s) }));
    lines.forEach(function (line) { c.appendChild(el("div", "card-line", line)); });
    if (d.splits && d.splits.length) {
      var tb = el("table", "splits"), hr = el("tr");
      [T("mat"), "km", T("net")].forEach(function (h) { hr.appendChild(el("th", null, h)); });
      tb.appendChild(hr);
      d.splits.forEach(function (s) {
        var tr = el("tr");
        [(meta.mat_names || {})[s.mat] || s.mat, fmtFixed(s.at_m / 1000, 2), fmtDur(s.net_s)].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        tb.appendChild(tr);
      });
      c.appendChild(tb);
    }
    return c;
  }

  function ordinal(n) {  // 12th / 12e (French: 1er, then 2e, 3e…)
    if (LANG === "fr") return n + (n === 1 ? "er" : "e");
    var s = ["th", "st", "nd", "rd"], v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  function placeText(d) {  // "12th overall · 3rd woman · 2nd in Master (F)"
    var sex = { F: T("woman"), M: T("man") }[d.sex] || T("in {group}", { group: d.sex });
    var parts = [T("{place} overall", { place: ordinal(d.place) })];
    if (d.place_sex) parts.push(ordinal(d.place_sex) + " " + sex);
    if (d.place_category) parts.push(T("{place} in {category}", { place: ordinal(d.place_category), category: d.category + " (" + d.sex + ")" }));
    return parts.join(" · ");
  }

  function renderCards() {
    var box = $("follow-cards");
    if (!box) return;
    box.replaceChildren.apply(box, follow.bibs.map(card));
    var empty = $("follow-empty");
    if (empty) empty.hidden = follow.bibs.length > 0;
    var tools = $("follow-share");
    if (tools) tools.hidden = follow.bibs.length === 0;
  }

  function followFirst(q) {  // Enter in the search box: follow the first runner that matches
    q = q.trim();
    if (!q) return;
    fetch(base() + "/api/runners?limit=1&q=" + encodeURIComponent(q)).then(function (r) { return r.ok ? r.json() : { runners: [] }; }).then(function (body) {
      var r = body.runners[0];
      if (!r) { setText("follow-share-status", T("no runner matches {q}", { q: q })); return; }
      if (follow.bibs.indexOf(r.bib) < 0) setFollow(follow.bibs.concat([r.bib]));
      var list = $("follow-results"), input = $("follow-search");
      if (list) list.replaceChildren();
      if (input) input.value = "";
    }).catch(function () { /* the connection state says enough */ });
  }

  var searchSeq = 0;
  function search(q) {
    var list = $("follow-results");
    if (!list) return;
    q = q.trim();
    if (!q) { list.replaceChildren(); return; }
    var mine = ++searchSeq;
    fetch(base() + "/api/runners?limit=8&q=" + encodeURIComponent(q)).then(function (r) { return r.ok ? r.json() : { runners: [] }; }).then(function (body) {
      if (mine !== searchSeq) return;
      var items = body.runners.map(function (r) {
        var li = el("li", "result");
        var b = el("button", "result-add", T("follow"));
        b.type = "button";
        b.addEventListener("click", function () {
          if (follow.bibs.indexOf(r.bib) < 0) setFollow(follow.bibs.concat([r.bib]));
          list.replaceChildren();
        });
        li.appendChild(el("span", "result-bib", r.bib));
        li.appendChild(el("span", "result-name", r.name));
        li.appendChild(el("span", "result-status", statusText(r.status)));
        li.appendChild(b);
        return li;
      });
      if (!items.length) items = [el("li", "result-none", T("no runner matches"))];
      list.replaceChildren.apply(list, items);
    }).catch(function () { /* try again on the next keystroke */ });
  }

  // ---- wiring: pages come and go (Dash renders them); bind what is on screen -----------------

  function bind() {
    var input = $("follow-search");
    if (input && !input.dataset.bound) {
      input.dataset.bound = "1";
      input.addEventListener("input", function () { search(input.value); });
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); followFirst(input.value); } });
      var sb = $("follow-share-button"), nb = $("follow-notify-button");
      if (sb) sb.addEventListener("click", share);
      if (nb) {
        nb.hidden = typeof Notification !== "function" || Notification.permission !== "default";
        nb.addEventListener("click", function () { Notification.requestPermission().then(function () { nb.hidden = true; }); });
      }
      renderNotices();
      if (input.value) search(input.value);  // typed before we were listening
      renderCards();
    }
    var t = $("ticker");
    if (t && !t.dataset.bound) { t.dataset.bound = "1"; renderTicker(); stories(); }
    var a = $("alerts");
    if (a && !a.dataset.bound) { a.dataset.bound = "1"; renderAlerts(); pollMats(); }
    var tools = $("alerts-tools");
    if (tools && !tools.dataset.bound) {  // the filter: open alerts only (a view, not an action: on every screen)
      tools.dataset.bound = "1";
      var label = el("label", "alerts-filter"), box = el("input");
      box.type = "checkbox"; box.id = "alerts-open-only";
      box.addEventListener("change", renderAlerts);
      label.appendChild(box); label.appendChild(document.createTextNode(" " + T("open only")));
      tools.replaceChildren(label);
    }
  }

  function start() {
    if (!readMeta()) { setTimeout(start, 100); return; }
    if (sharedBibs().length) history.replaceState(null, "", location.pathname);  // followed now: a reload keeps the list, not the link
    openLive();
    openEvents();
    setInterval(function () {
      bind();
      redraw();
      stories();
      if (dirty.ticker) { dirty.ticker = false; renderTicker(); }
      if (dirty.alerts) { dirty.alerts = false; renderAlerts(); }
      connState();
      window.pursuit.refreshes += 1;
    }, REDRAW_MS);
    setInterval(pollMats, MAT_POLL_MS);
  }

  window.pursuit = {
    state: S, view: view, follow: setFollow, frames: frames, feed: feed, refreshes: 0, moves: moves,
    drawnAt: function (r) { return runnerDistance(r, raceNow()); },  // where runner row r is drawn now
    roster: function () { return roster; },
    alertsChanged: function () { dirty.alerts = true; },  // signed in or out (assets/console.js)
    eventText: eventText,  // an event in the page's language (assets/console.js asks before acknowledging)
    drop: function () { if (live.ws) live.ws.close(); },  // what a network blip does (browser tests use it)
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
