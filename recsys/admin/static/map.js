// Draws /admin/map.json on a <canvas>: hover shows title and artist, click opens the song page.
"use strict";
(function () {
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#2f4b7c", "#a05195", "#d45087", "#665191", "#008080"];
  var OTHER = "#b8bcc4";
  var state = { data: null, points: [], colourBy: "tag", hover: -1, dpr: 1, drawn: 0, colours: null };
  window.recsysMap = state; // inspected by the browser test

  function colours(data, by) {
    var labels = by === "artist" ? data.artist : data.tag;
    var freq = {};
    labels.forEach(function (l) { if (l) { freq[l] = (freq[l] || 0) + 1; } });
    var top = Object.keys(freq).sort(function (a, b) { return freq[b] - freq[a] || (a < b ? -1 : 1); })
      .slice(0, PALETTE.length);
    var colourOf = {};
    top.forEach(function (l, i) { colourOf[l] = PALETTE[i]; });
    var legend = top.map(function (l) { return [l, colourOf[l], freq[l]]; });
    var rest = labels.length - top.reduce(function (n, l) { return n + freq[l]; }, 0);
    if (rest > 0) { legend.push(["other or no " + by, OTHER, rest]); }
    return {
      legend: legend,
      of: function (i) { return colourOf[labels[i]] || OTHER; }
    };
  }

  function fit(canvas) {
    // draw at the element's displayed size times the pixel ratio: sharp points, true hit tests
    var dpr = window.devicePixelRatio || 1, width = canvas.clientWidth || 900;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(width * 0.6 * dpr);
    state.dpr = dpr;
  }

  function layout(canvas, data) {
    var pad = 16 * (state.dpr || 1), w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
    return data.x.map(function (x, i) {
      return { x: pad + (x + 1) / 2 * w, y: pad + (1 - (data.y[i] + 1) / 2) * h, i: i };
    });
  }

  function draw(canvas) {
    var ctx = canvas.getContext("2d"), data = state.data;
    // colours and legend only change with the data or the colour choice, not with the hover
    var fresh = !state.colours || state.colours.data !== data || state.colours.by !== state.colourBy;
    if (fresh) { state.colours = { data: data, by: state.colourBy, c: colours(data, state.colourBy) }; }
    var c = state.colours.c;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    state.points.forEach(function (p) {
      ctx.fillStyle = c.of(p.i);
      ctx.beginPath();
      ctx.arc(p.x, p.y, (p.i === state.hover ? 6 : 3) * state.dpr, 0, 2 * Math.PI);
      ctx.fill();
    });
    state.drawn = state.points.length;
    if (!fresh) { return; }
    var legend = document.getElementById("map-legend");
    legend.textContent = "";
    c.legend.forEach(function (entry) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = entry[1];
      item.appendChild(swatch);
      item.appendChild(isolated(entry[0]));  // an artist's name cannot reorder the count
      item.appendChild(document.createTextNode(" (" + entry[2].toLocaleString("en") + ")"));
      legend.appendChild(item);
    });
  }

  function nearest(canvas, event) {
    var rect = canvas.getBoundingClientRect();
    var x = (event.clientX - rect.left) * canvas.width / rect.width;
    var y = (event.clientY - rect.top) * canvas.height / rect.height;
    var best = -1, bestD = 64 * state.dpr * state.dpr; // within 8 CSS pixels
    state.points.forEach(function (p) {
      var d = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y);
      if (d < bestD) { bestD = d; best = p.i; }
    });
    return best;
  }

  // Catalog text in a <bdi>: a right-to-left override in a title cannot flip the id after it.
  function isolated(text) {
    var bdi = document.createElement("bdi");
    bdi.textContent = text;
    return bdi;
  }

  function showTip(canvas, tip, i, event) {
    if (i < 0) { tip.hidden = true; return; }
    var d = state.data;
    tip.textContent = "";
    var title = document.createElement("strong");
    title.appendChild(isolated(d.title[i] || "(untitled)"));
    tip.appendChild(title);
    tip.appendChild(document.createTextNode(" — "));
    tip.appendChild(isolated(d.artist[i] || "unknown artist"));
    tip.appendChild(document.createElement("br"));
    tip.appendChild(document.createTextNode("id " + d.ids[i]));
    if (d.tag[i]) {
      tip.appendChild(document.createTextNode(" · tag: "));
      tip.appendChild(isolated(d.tag[i]));
    }
    if (state.hidden && state.hidden[d.ids[i]]) {
      tip.appendChild(document.createTextNode(" · hidden (never recommended)"));
    }
    var rect = canvas.getBoundingClientRect();
    tip.style.left = (event.clientX - rect.left + 12) + "px";
    tip.style.top = (event.clientY - rect.top + 12) + "px";
    tip.hidden = false;
  }

  function init() {
    var canvas = document.getElementById("map");
    if (!canvas) { return; }
    var tip = document.getElementById("map-tip"), status = document.getElementById("map-status");
    var select = document.getElementById("map-colour");
    fetch(canvas.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected || !/json/.test(r.headers.get("Content-Type") || "")) {
          throw new Error("the session has expired; reload the page to log in again");
        }
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.error && body.error.message || "HTTP " + r.status); }
          return body;
        });
      })
      .then(function (data) {
        state.data = data;
        state.hidden = {};
        (data.hidden || []).forEach(function (id) { state.hidden[id] = true; });
        fit(canvas);
        state.points = layout(canvas, data);
        draw(canvas);
        status.textContent = "Model " + data.version + ": " + data.n_points.toLocaleString("en") + " of " +
          data.n_songs.toLocaleString("en") +
          " songs (most played), PCA explains " +
          Math.round(100 * (data.explained_variance[0] + data.explained_variance[1])) +
          "% of the variance. Hover for a song, click to open it.";
      })
      .catch(function (err) { status.textContent = "The map could not be loaded: " + err.message; });
    canvas.addEventListener("mousemove", function (event) {
      if (!state.data) { return; }
      var i = nearest(canvas, event);
      if (i !== state.hover) { state.hover = i; draw(canvas); }
      canvas.style.cursor = i >= 0 ? "pointer" : "default";
      showTip(canvas, tip, i, event);
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; state.hover = -1; if (state.data) { draw(canvas); } });
    canvas.addEventListener("click", function (event) {
      if (!state.data) { return; }
      var i = nearest(canvas, event);
      if (i >= 0) {
        window.location.href = canvas.getAttribute("data-song-url").replace(/0$/, String(state.data.ids[i]));
      }
    });
    window.addEventListener("resize", function () {
      if (state.data) { fit(canvas); state.points = layout(canvas, state.data); draw(canvas); }
    });
    if (select) {
      select.addEventListener("change", function () { state.colourBy = select.value; if (state.data) { draw(canvas); } });
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
