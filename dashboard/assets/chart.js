/* /follow's map without plotly: the view (projected metres -> pixels), zoom and pan, and the course.
 *
 * The page (dashboard/follow.py) holds a div.course-map in #map, with the view it opens at and the
 * mats' places (data-chart) and the legend. This draws on a canvas the course, its direction
 * every 250 m and the mats, keeps the course's aspect ratio (a metre is as many pixels across as
 * up: the view opens on the whole course, widened to the panel's shape), and owns zoom (wheel,
 * pinch, double-click, the +/− buttons) and pan (drag, one finger). The element answers pursuitView() with the
 * frame assets/map.js and assets/pursuit.js draw with ({l, t, w, h, kx, ky, x0, y1}, as they read
 * plotly's on the other pages) and fires "mapview" whenever the view changes.
 */
(function () {
  "use strict";

  var COURSE = "#1f3b73", MAT = "#34495e", AVENUE = "#e3e6ea", ARROW_EVERY_M = 250;
  var MIN_K = 0.02, MAX_K = 40;  // pixels per metre: the whole region to a few metres
  var V = { el: null, canvas: null, data: null, course: null, cx: 0, cy: 0, k: 0, fitted: true, W: 0, H: 0, key: "" };
  var pointers = {}, gesture = null;

  function fit() {  // the opening view: the course with room for its labels, in the panel's shape
    var v = V.data.view;
    V.cx = (v[0] + v[1]) / 2; V.cy = (v[2] + v[3]) / 2;
    V.k = Math.min(V.W / (v[1] - v[0]), V.H / (v[3] - v[2]));
    V.fitted = true;
  }

  function frame() {
    if (!V.W || !V.H || !V.k) return null;
    return { l: 0, t: 0, w: V.W, h: V.H, kx: V.k, ky: V.k, x0: V.cx - V.W / 2 / V.k, y1: V.cy + V.H / 2 / V.k };
  }

  function changed() { draw(); V.el.dispatchEvent(new Event("mapview")); }

  function resize() {
    var W = V.el.clientWidth, H = V.el.clientHeight;
    if (W === V.W && H === V.H) return;
    V.W = W; V.H = H;
    if (V.fitted || !V.k) fit();
    changed();
  }

  function draw() {
    var f = frame(), c = V.canvas, dpr = window.devicePixelRatio || 1;
    if (!f) return;
    if (c.width !== Math.round(V.W * dpr) || c.height !== Math.round(V.H * dpr)) {
      c.width = Math.round(V.W * dpr); c.height = Math.round(V.H * dpr);
      c.style.width = V.W + "px"; c.style.height = V.H + "px";
    }
    var ctx = c.getContext("2d"), x = V.course.x, y = V.course.y, n = x.length;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, V.W, V.H);
    function X(v) { return (v - f.x0) * f.kx; }
    function Y(v) { return (f.y1 - v) * f.ky; }
    ctx.lineCap = "round"; ctx.lineJoin = "round";
    var line = new Path2D();
    line.moveTo(X(x[0]), Y(y[0]));
    for (var i = 1; i < n; i++) line.lineTo(X(x[i]), Y(y[i]));
    if (V.data.avenue) { ctx.strokeStyle = AVENUE; ctx.lineWidth = 28; ctx.stroke(line); }
    ctx.strokeStyle = COURSE; ctx.lineWidth = 3; ctx.stroke(line);
    // the direction: an arrowhead every 250 m, pointing along the course
    var d = V.course.d, step = d[n - 1] / (n - 1);
    ctx.fillStyle = COURSE; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1;
    for (var at = ARROW_EVERY_M / 2; at < d[n - 1]; at += ARROW_EVERY_M) {
      var a = Math.max(0, Math.round((at - 5) / step)), b = Math.min(n - 1, Math.round((at + 5) / step)), m = Math.round(at / step);
      var dx = X(x[b]) - X(x[a]), dy = Y(y[b]) - Y(y[a]), len = Math.hypot(dx, dy) || 1, ux = dx / len, uy = dy / len;
      var px = X(x[m]), py = Y(y[m]);
      if (px < -10 || py < -10 || px > V.W + 10 || py > V.H + 10) continue;
      ctx.beginPath();
      ctx.moveTo(px + ux * 6, py + uy * 6);
      ctx.lineTo(px - ux * 5 - uy * 5, py - uy * 5 + ux * 5);
      ctx.lineTo(px - ux * 5 + uy * 5, py - uy * 5 - ux * 5);
      ctx.closePath(); ctx.fill(); ctx.stroke();
    }
    ctx.fillStyle = MAT; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1.5;
    V.data.mats.forEach(function (p) {
      ctx.beginPath(); ctx.rect(X(p[0]) - 6, Y(p[1]) - 6, 12, 12); ctx.fill(); ctx.stroke();
    });
  }

  // ---- zoom and pan ------------------------------------------------------------------------------

  function zoomAt(px, py, factor) {  // keep the point under (px, py) where it is
    var k = Math.min(MAX_K, Math.max(MIN_K, V.k * factor));
    var mx = V.cx + (px - V.W / 2) / V.k, my = V.cy - (py - V.H / 2) / V.k;
    V.cx = mx - (px - V.W / 2) / k; V.cy = my + (py - V.H / 2) / k; V.k = k;
    V.fitted = false;
    changed();
  }
  function panBy(dx, dy) { V.cx -= dx / V.k; V.cy += dy / V.k; V.fitted = false; changed(); }
  function local(e) { var r = V.el.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }

  function listen(el) {
    el.addEventListener("wheel", function (e) {
      e.preventDefault();
      var p = local(e);
      zoomAt(p[0], p[1], Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)));
    }, { passive: false });
    el.addEventListener("dblclick", function (e) {
      if (e.target.closest && e.target.closest(".map-zoom")) return;
      var p = local(e); zoomAt(p[0], p[1], 2);
    });
    Array.prototype.forEach.call(el.querySelectorAll(".map-zoom button"), function (b) {  // for a keyboard, or a mouse without a wheel
      b.addEventListener("click", function () {
        var z = b.getAttribute("data-zoom");
        if (z === "fit") { fit(); changed(); } else zoomAt(V.W / 2, V.H / 2, z === "in" ? 2 : 0.5);
      });
    });
    el.addEventListener("pointerdown", function (e) {
      if (e.target.closest && e.target.closest(".legend, .map-attribution, .map-zoom")) return;
      pointers[e.pointerId] = local(e);
      el.setPointerCapture(e.pointerId);
      gesture = null;
    });
    el.addEventListener("pointermove", function (e) {
      var was = pointers[e.pointerId];
      if (!was) return;
      var now = local(e), ids = Object.keys(pointers);
      if (ids.length === 1) {
        panBy(now[0] - was[0], now[1] - was[1]);
      } else if (ids.length === 2) {  // pinch: the distance between the fingers scales the view
        var other = pointers[ids[0] == e.pointerId ? ids[1] : ids[0]];
        var before = Math.hypot(was[0] - other[0], was[1] - other[1]), after = Math.hypot(now[0] - other[0], now[1] - other[1]);
        if (before > 0) zoomAt((now[0] + other[0]) / 2, (now[1] + other[1]) / 2, after / before);
      }
      pointers[e.pointerId] = now;
    });
    function up(e) { delete pointers[e.pointerId]; }
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  }

  function start() {
    var el = document.querySelector("#map .course-map"), meta = document.getElementById("race-meta");
    if (!el || !meta || V.el) return;
    V.el = el;
    V.data = JSON.parse(el.getAttribute("data-chart"));
    V.course = JSON.parse(meta.getAttribute("data-course"));
    V.canvas = document.createElement("canvas");
    V.canvas.className = "course-layer";
    V.canvas.setAttribute("aria-hidden", "true");
    el.insertBefore(V.canvas, el.firstChild);
    el.pursuitView = frame;
    el.pursuitReset = function () { fit(); changed(); };
    el.pursuitZoom = function (x0, x1, y0, y1) {  // show at least this box (metres), centred
      V.cx = (x0 + x1) / 2; V.cy = (y0 + y1) / 2;
      V.k = Math.min(MAX_K, Math.max(MIN_K, Math.min(V.W / (x1 - x0), V.H / (y1 - y0))));
      V.fitted = false; changed();
    };
    listen(el);
    if (window.ResizeObserver) new ResizeObserver(resize).observe(el);
    window.addEventListener("resize", resize);
    resize();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
