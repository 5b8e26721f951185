/* pursuit's map under the course: the basemap, online tiles where configured, labels, attribution.
 *
 * The course map is a plotly figure in projected metres with a transparent plot (dashboard/
 * figures.py), or on /follow our own canvas (assets/chart.js). Under it, inside its container, this draws on a canvas the race's basemap
 * (GET /map/basemap.json, fetched once and cached for good: streets by class, water, parks,
 * landmarks; dashboard/map_data.py) and, when race.toml asks for it, a layer of online tiles over
 * the basemap (a tile that does not load leaves the basemap showing: the page looks the same
 * without internet). Over the plot, under the runners, a layer of labels: mats, km, landmarks, the
 * Seine, street and park names, placed in priority order and shown only where they fit, inside
 * the map and overlapping nothing; it is laid out again whenever the view changes. The credit of
 * the map data is always shown. Everything is set as text, never as HTML.
 */
(function () {
  "use strict";

  var R = 6371008.8, DEG = Math.PI / 180;
  var LAND = "#f2efe9", WATER = "#aad3df", PARK = "#cde6c0", LANDMARK = "#5d6d7e";
  // street classes (dashboard/map_data.py CLASS_ORDER): casing colour, fill colour, width in px at overview zoom
  var STYLE = {
    square: { casing: null, fill: "#fbfaf7", width: 2.5 },
    street: { casing: "#ddd6ca", fill: "#ffffff", width: 2.2 },
    major: { casing: "#d2b98b", fill: "#fff6dc", width: 4.5 },
  };
  var AROUND = [[0, -1], [0, 1], [1, 0], [-1, 0], [1, -1], [-1, -1], [1, 1], [-1, 1], [0, -2], [0, 2]];
  var FARTHER = [[0, -3], [0, 3], [2, 0], [-2, 0], [1.5, -2], [-1.5, -2], [1.5, 2], [-1.5, 2], [0, -4], [0, 4], [3, 0], [-3, 0]];
  var OFFSETS = {  // where a label may sit around its point, in order of preference (in half its size + 8 px)
    mat: AROUND.concat(FARTHER),
    landmark: [[0, 1], [0, -1], [1, 0], [-1, 0], [1, 1], [-1, 1], [1, -1], [-1, -1], [0, 2], [0, -2], [0, 3], [0, -3],
               [0.5, 2], [-0.5, 2], [0.5, -2], [-0.5, -2]],
    km: [[1, 0], [-1, 0], [1, -1], [-1, 1], [0, -1], [0, 1]].concat(FARTHER),
  };
  var GRAPH = "#map .js-plotly-plot, #map .course-map";  // plotly's graph, or /follow's own (assets/chart.js)
  var GAP = 3;  // px kept free around every label
  var TILE_PX = 256, MAX_TILES = 80;

  var M = { course: null, meta: null, doc: null, paths: null, gd: null, canvas: null, tiles: null, layer: null, credit: null, labels: [],
            key: "", loading: false, tilesOk: false, tileErrors: 0, failed: {}, placed: 0 };

  function $(id) { return document.getElementById(id); }

  function frame(gd) {  // the plot area in CSS pixels and the data -> pixel mapping
    if (gd && gd.pursuitView) return gd.pursuitView();  // /follow's own map (assets/chart.js)
    var fl = gd && gd._fullLayout;
    if (!fl || !fl.xaxis || !fl._size) return null;
    var sz = fl._size, xr = fl.xaxis.range, yr = fl.yaxis.range;
    return {
      l: sz.l, t: sz.t, w: sz.w, h: sz.h,
      kx: sz.w / (xr[1] - xr[0]), x0: xr[0], ky: sz.h / (yr[1] - yr[0]), y1: yr[1],
    };
  }
  function px(f, x, y) { return [f.l + (x - f.x0) * f.kx, f.t + (f.y1 - y) * f.ky]; }

  function readMeta() {
    if (M.meta) return true;
    var m = $("race-meta");
    if (!m) return false;
    M.meta = JSON.parse(m.getAttribute("data-race")).map;
    if (M.meta.basemap) loadBasemap(M.meta.basemap);
    return true;
  }

  function loadBasemap(url) {
    M.loading = true;
    fetch(url).then(function (r) {
      if (!r.ok) throw new Error("GET " + url + ": HTTP " + r.status);
      return r.json();
    }).then(function (doc) {
      M.doc = doc; M.paths = build(doc); M.loading = false; M.key = "";
      M.labels.forEach(function (l) { l.el.remove(); });
      M.labels = [];
      paint();
    }).catch(function (err) { M.loading = false; console.warn("pursuit map: " + err.message); });
  }

  function addLine(path, steps, close) {  // whole metres, each point after the first a step from the last
    var x = steps[0], y = steps[1];
    path.moveTo(x, y);
    for (var i = 2; i < steps.length; i += 2) { x += steps[i]; y += steps[i + 1]; path.lineTo(x, y); }
    if (close) path.closePath();
  }

  function build(doc) {
    var out = { water: new Path2D(), parks: new Path2D(), streets: [] };
    doc.water.forEach(function (s) { addLine(out.water, s, true); });
    doc.parks.forEach(function (s) { addLine(out.parks, s, true); });
    doc.streets.forEach(function (lines, k) {
      var p = new Path2D();
      lines.forEach(function (s) { addLine(p, s, false); });
      out.streets.push({ style: STYLE[doc.classes[k]] || STYLE.street, path: p });
    });
    return out;
  }

  // ---- layers inside plotly's graph div -------------------------------------------------------

  function attach(gd) {
    M.gd = gd; M.key = "";
    var holder = gd.querySelector(".svg-container") || gd;
    M.canvas = document.createElement("canvas");
    M.canvas.className = "basemap-layer";
    M.canvas.setAttribute("aria-hidden", "true");
    holder.insertBefore(M.canvas, holder.firstChild);  // under plotly's transparent plot
    M.tiles = document.createElement("div");
    M.tiles.className = "tiles-layer";
    holder.insertBefore(M.tiles, M.canvas.nextSibling);
    M.layer = document.createElement("div");
    M.layer.className = "map-labels";
    gd.appendChild(M.layer);
    M.credit = document.createElement("div");
    M.credit.className = "map-attribution";
    gd.appendChild(M.credit);
    M.labels.forEach(function (l) { M.layer.appendChild(l.el); });
    if (gd.clientWidth < 560 && window.Plotly) {  // a phone: a compact legend leaves the map room
      Plotly.relayout(gd, { "legend.font.size": 11, "legend.itemwidth": 30 });
    }
    if (gd.on) {
      gd.on("plotly_relayout", paint);
      gd.on("plotly_relayouting", paint);
      gd.on("plotly_afterplot", paint);
    } else {
      gd.addEventListener("mapview", paint);
    }
  }

  function paint() {
    var gd = M.gd;
    if (!gd || !gd.contains(M.canvas)) return;
    var f = frame(gd);
    if (!f) return;
    var W = gd.clientWidth, H = gd.clientHeight, dpr = window.devicePixelRatio || 1;
    credit();
    var furniture = [M.gd.querySelector(".legend"), M.gd.querySelector(".map-zoom"), M.credit].map(obstacle).filter(Boolean);
    var key = [W, H, dpr, f.l, f.t, f.w, f.h, f.x0, f.y1, f.kx, f.ky, !!M.doc].concat(furniture.map(function (o) {
      return o.box.map(Math.round).join(" ");
    })).join(",");  // a new view, or the legend or the credit changed size: lay the labels out again
    if (key === M.key) return;
    M.key = key;
    var c = M.canvas;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.width = W + "px"; c.style.height = H + "px";
    }
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = LAND;
    ctx.fillRect(0, 0, W, H);
    if (M.paths) drawBasemap(ctx, f, dpr);
    if (M.meta.tiles) drawTiles(f);
    placeLabels(f, W, H, furniture);
  }

  function drawBasemap(ctx, f, dpr) {
    ctx.save();
    ctx.beginPath(); ctx.rect(f.l, f.t, f.w, f.h); ctx.clip();
    // metres -> CSS px: x' = l + (x - x0) kx, y' = t + (y1 - y) ky
    ctx.setTransform(dpr * f.kx, 0, 0, -dpr * f.ky, dpr * (f.l - f.x0 * f.kx), dpr * (f.t + f.y1 * f.ky));
    var perPx = 1 / f.kx;  // metres per CSS pixel
    var grow = Math.min(3, Math.max(0.7, Math.sqrt(f.kx / 0.45)));  // streets widen as one zooms in
    ctx.fillStyle = PARK; ctx.fill(M.paths.parks);
    ctx.fillStyle = WATER; ctx.fill(M.paths.water);
    ctx.lineCap = "round"; ctx.lineJoin = "round";
    M.paths.streets.forEach(function (s) {
      if (!s.style.casing) return;
      ctx.strokeStyle = s.style.casing; ctx.lineWidth = (s.style.width * grow + 1.5) * perPx; ctx.stroke(s.path);
    });
    M.paths.streets.forEach(function (s) {
      ctx.strokeStyle = s.style.fill; ctx.lineWidth = s.style.width * grow * perPx; ctx.stroke(s.path);
    });
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = LANDMARK;
    (M.doc.landmarks || []).forEach(function (p) {
      var q = px(f, p[0], p[1]);
      ctx.beginPath(); ctx.arc(q[0], q[1], 3.5, 0, 2 * Math.PI); ctx.fill();
    });
    ctx.restore();
  }

  // ---- online tiles (optional) ------------------------------------------------------------------

  function toLonLat(x, y) {  // inverse of Course.project (equirectangular about the course's centre)
    var lat0 = M.meta.origin[0], lon0 = M.meta.origin[1];
    return [lon0 + x / (R * DEG * Math.cos(lat0 * DEG)), lat0 + y / (R * DEG)];
  }
  function toXY(lon, lat) {
    var lat0 = M.meta.origin[0], lon0 = M.meta.origin[1];
    return [(lon - lon0) * R * DEG * Math.cos(lat0 * DEG), (lat - lat0) * R * DEG];
  }
  function tileLon(x, z) { return x / Math.pow(2, z) * 360 - 180; }
  function tileLat(y, z) { var n = Math.PI - 2 * Math.PI * y / Math.pow(2, z); return Math.atan(Math.sinh(n)) / DEG; }
  function lonTile(lon, z) { return Math.floor((lon + 180) / 360 * Math.pow(2, z)); }
  function latTile(lat, z) {
    var r = lat * DEG;
    return Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * Math.pow(2, z));
  }

  function drawTiles(f) {
    var t = M.meta.tiles, lat0 = M.meta.origin[0];
    var metresPerPx = 1 / f.kx;
    var z = Math.round(Math.log2(156543.03 * Math.cos(lat0 * DEG) / metresPerPx));
    z = Math.max(0, Math.min(t.max_zoom, z));
    var nw = toLonLat(f.x0, f.y1), se = toLonLat(f.x0 + f.w / f.kx, f.y1 - f.h / f.ky);
    var x0 = lonTile(nw[0], z), x1 = lonTile(se[0], z), y0 = latTile(nw[1], z), y1 = latTile(se[1], z);
    var want = {};
    if ((x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES) {
      for (var x = x0; x <= x1; x++) for (var y = y0; y <= y1; y++) want[z + "/" + x + "/" + y] = [z, x, y];
    }
    Array.prototype.slice.call(M.tiles.children).forEach(function (img) { if (!want[img.dataset.key]) img.remove(); });
    var have = {};
    Array.prototype.forEach.call(M.tiles.children, function (img) { have[img.dataset.key] = img; });
    M.tiles.style.clipPath = "inset(" + f.t + "px " + (M.gd.clientWidth - f.l - f.w) + "px " +
      (M.gd.clientHeight - f.t - f.h) + "px " + f.l + "px)";
    Object.keys(want).forEach(function (k) {
      var zxy = want[k], img = have[k];
      if (!img && Date.now() - (M.failed[k] || 0) < 60000) return;
      if (!img) {
        img = document.createElement("img");
        img.dataset.key = k; img.alt = ""; img.decoding = "async"; img.referrerPolicy = "no-referrer";
        img.style.visibility = "hidden";
        img.onload = function () { img.style.visibility = "visible"; if (!M.tilesOk) { M.tilesOk = true; credit(); } };
        img.onerror = function () {  // no network: the basemap underneath shows; not asked again for a minute
          img.remove(); M.tileErrors += 1; M.failed[k] = Date.now();
        };
        img.src = t.url.replace("{z}", zxy[0]).replace("{x}", zxy[1]).replace("{y}", zxy[2]);
        M.tiles.appendChild(img);
      }
      var a = toXY(tileLon(zxy[1], zxy[0]), tileLat(zxy[2], zxy[0]));
      var b = toXY(tileLon(zxy[1] + 1, zxy[0]), tileLat(zxy[2] + 1, zxy[0]));
      var p = px(f, a[0], a[1]), q = px(f, b[0], b[1]);
      img.style.left = p[0] + "px"; img.style.top = p[1] + "px";
      img.style.width = (q[0] - p[0] + 0.5) + "px"; img.style.height = (q[1] - p[1] + 0.5) + "px";
    });
  }

  // ---- attribution and labels -----------------------------------------------------------------

  function credit() {
    var parts = [];
    if (M.doc) parts.push(M.doc.attribution);
    if (M.meta.tiles && M.tilesOk && parts.indexOf(M.meta.tiles.attribution) < 0) parts.push("tiles " + M.meta.tiles.attribution);
    var text = parts.join(" · ");
    if (M.credit.textContent !== text) M.credit.textContent = text;
    M.credit.hidden = !text;
  }

  function makeLabels() {  // once: the race's labels and the basemap's, measured unrotated
    var all = M.meta.labels.concat(M.doc ? M.doc.labels : []);
    M.labels = all.map(function (d) {
      var e = document.createElement("div");
      e.className = "map-label map-label-" + d.k;
      e.textContent = d.t;
      M.layer.appendChild(e);
      return { d: d, el: e, w: 0, h: 0, on: true };
    });
    M.labels.forEach(function (l) { l.w = l.el.offsetWidth; l.h = l.el.offsetHeight; });
    M.labels.sort(function (a, b) { return a.d.p - b.d.p; });  // stable: the server's order within a priority
  }

  // A label's box is a rectangle turned by its angle; boxes are tested with the separating-axis
  // test (a street name along a diagonal street would block a whole square as an upright box).
  function quad(cx, cy, w, h, deg) {
    var a = -deg * DEG, c = Math.cos(a), s = Math.sin(a), hw = w / 2 + GAP / 2, hh = h / 2 + GAP / 2;
    var pts = [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(function (p) {
      return [cx + p[0] * c - p[1] * s, cy + p[0] * s + p[1] * c];
    });
    var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
    return { pts: pts, axes: [[c, s], [-s, c]],
             box: [Math.min.apply(null, xs), Math.min.apply(null, ys), Math.max.apply(null, xs), Math.max.apply(null, ys)] };
  }
  function rect(l, t, r, b) { return { pts: [[l, t], [r, t], [r, b], [l, b]], axes: [[1, 0], [0, 1]], box: [l, t, r, b] }; }
  function apart(a, b) {
    if (a.box[0] >= b.box[2] || b.box[0] >= a.box[2] || a.box[1] >= b.box[3] || b.box[1] >= a.box[3]) return true;
    var axes = a.axes.concat(b.axes);
    for (var i = 0; i < axes.length; i++) {
      var ax = axes[i], amin = Infinity, amax = -Infinity, bmin = Infinity, bmax = -Infinity;
      for (var k = 0; k < 4; k++) {
        var pa = a.pts[k][0] * ax[0] + a.pts[k][1] * ax[1], pb = b.pts[k][0] * ax[0] + b.pts[k][1] * ax[1];
        if (pa < amin) amin = pa; if (pa > amax) amax = pa; if (pb < bmin) bmin = pb; if (pb > bmax) bmax = pb;
      }
      if (amax <= bmin || bmax <= amin) return true;
    }
    return false;
  }
  function free(q, list) { for (var i = 0; i < list.length; i++) if (!apart(q, list[i])) return false; return true; }

  function obstacle(el) {  // a box of the map's own furniture (legend, credit) in the graph's pixels
    if (!el || el.hidden) return null;
    var r = el.getBoundingClientRect(), g = M.gd.getBoundingClientRect();
    if (!r.width || !r.height) return null;
    return rect(r.left - g.left, r.top - g.top, r.right - g.left, r.bottom - g.top);
  }

  function courseBoxes(f) {  // the course, as small boxes: names stay off it, where the runners are
    if (!M.course) {
      var c = JSON.parse($("race-meta").getAttribute("data-course")), step = Math.max(1, Math.round(20 / (c.d[1] - c.d[0])));
      M.course = [];
      for (var i = 0; i < c.d.length; i += step) M.course.push([c.x[i], c.y[i]]);
    }
    var half = Math.max(4, 16 * f.kx + 2), out = [];
    M.course.forEach(function (p) {
      var q = px(f, p[0], p[1]);
      if (q[0] > f.l - half && q[0] < f.l + f.w + half && q[1] > f.t - half && q[1] < f.t + f.h + half) {
        out.push(rect(q[0] - half, q[1] - half, q[0] + half, q[1] + half));
      }
    });
    return out;
  }

  function placeLabels(f, W, H, furniture) {
    if (!M.labels.length || M.labels.length !== M.meta.labels.length + (M.doc ? M.doc.labels.length : 0)) {
      M.labels.forEach(function (l) { l.el.remove(); });
      makeLabels();
    }
    M.layer.style.width = W + "px"; M.layer.style.height = H + "px";
    var placed = furniture.slice();
    var course = courseBoxes(f);
    var l0 = f.l + 2, t0 = f.t + 2, r0 = f.l + f.w - 2, b0 = f.t + f.h - 2;
    var count = 0;
    M.labels.forEach(function (l) {
      var d = l.d, got = null;
      if (!d.z || f.kx >= d.z) {
        var a = (d.a || 0) * DEG, cos = Math.abs(Math.cos(a)), sin = Math.abs(Math.sin(a));
        var bw = l.w * cos + l.h * sin, bh = l.w * sin + l.h * cos;
        var p = px(f, d.x, d.y), tries = OFFSETS[d.k] || [[0, 0]];
        // never on the course, where the runners are (a label there hid them, or they hid it): a label
        // with no room beside it is not shown at this zoom
        var passes = [course];
        if (p[0] > l0 - bw && p[0] < r0 + bw && p[1] > t0 - bh && p[1] < b0 + bh) {
          for (var pass = 0; pass < passes.length && !got; pass++) {
            for (var i = 0; i < tries.length && !got; i++) {
              var cx = p[0] + tries[i][0] * (bw / 2 + 8), cy = p[1] + tries[i][1] * (bh / 2 + 8);
              var q = quad(cx, cy, l.w, l.h, d.a || 0);
              if (q.box[0] >= l0 && q.box[1] >= t0 && q.box[2] <= r0 && q.box[3] <= b0 && free(q, placed) && free(q, passes[pass])) {
                got = { q: q, cx: cx, cy: cy };
              }
            }
          }
        }
      }
      if (got) {
        placed.push(got.q); count += 1;
        var tf = "translate(" + (got.cx - l.w / 2).toFixed(1) + "px," + (got.cy - l.h / 2).toFixed(1) + "px)" +
          (d.a ? " rotate(" + (-d.a) + "deg)" : "");
        if (l.el.style.transform !== tf) l.el.style.transform = tf;
      }
      if (l.on !== !!got) { l.on = !!got; l.el.classList.toggle("off", !got); }
      l.box = got ? got.q.box : null;
    });
    M.placed = count;
    M.covered = null;
  }

  function cover() {  // a place name under the pursuer's or a followed runner's name is hidden while it is
    var marks = (window.pursuit && window.pursuit.view && window.pursuit.view.marks) || [];
    var key = marks.map(function (m) { return m.map(Math.round).join(" "); }).join(",");
    if (key === M.covered) return;
    M.covered = key;
    M.labels.forEach(function (l) {
      var under = !!l.box && marks.some(function (m) {
        return l.box[0] < m[2] && m[0] < l.box[2] && l.box[1] < m[3] && m[1] < l.box[3];
      });
      if (l.under !== under) { l.under = under; l.el.classList.toggle("covered", under); }
    });
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function tick() {
    if (!readMeta()) return;
    var gd = document.querySelector(GRAPH);
    if (gd && (gd !== M.gd || !gd.contains(M.canvas))) attach(gd);
    paint();
    cover();
  }

  window.pursuitMap = {
    frame: frame,
    state: function () {
      return { basemap: !!M.doc, labels: M.labels.length, placed: M.placed, tilesOk: M.tilesOk, tileErrors: M.tileErrors,
               covered: M.labels.filter(function (l) { return l.under; }).map(function (l) { return l.el.textContent; }) };
    },
  };
  setInterval(tick, 250);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tick);
  else tick();
})();
