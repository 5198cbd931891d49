/**
 * The terminal replay player (served as /console/assets/player.js; the CSP allows no inline
 * script). It plays an asciicast v2 recording into a <pre>: a small screen model — printable
 * text, CR/LF/BS/TAB, cursor moves, erase in line/display — enough for shells and command output;
 * other escape sequences are dropped, never interpreted as HTML (text goes in via textContent).
 * The asciinema-player package would be 600 KB in every worker isolate for the same result here.
 */
export const PLAYER_JS = String.raw`"use strict";
(function () {
  var root = document.getElementById("player");
  if (!root) return;
  var screen = document.getElementById("screen");
  var clock = document.getElementById("clock");
  var playBtn = document.getElementById("play");
  var endBtn = document.getElementById("to-end");
  var speedSel = document.getElementById("speed");
  var frames = [], header = null, idx = 0, t = 0, timer = null, lastTick = 0;
  var rows = [[]], row = 0, col = 0, height = 24;

  function reset() { rows = [[]]; row = 0; col = 0; idx = 0; t = 0; }
  function line(r) { while (rows.length <= r) rows.push([]); return rows[r]; }
  function put(ch) {
    var l = line(row);
    while (l.length < col) l.push(" ");
    l[col] = ch; col++;
  }
  function csi(params, final) {
    var n = params.split(";").map(function (p) { return parseInt(p, 10); });
    var a = isNaN(n[0]) ? 0 : n[0];
    var top = Math.max(0, rows.length - height);
    switch (final) {
      case "K": { var l = line(row); if (a === 0) l.length = Math.min(l.length, col); else if (a === 2) rows[row] = []; else for (var i = 0; i <= col && i < l.length; i++) l[i] = " "; break; }
      case "J": if (a === 2 || a === 3) { rows = [[]]; row = 0; col = 0; } else if (a === 0) { line(row).length = Math.min(line(row).length, col); rows.length = row + 1; } break;
      case "H": case "f": row = top + Math.max(1, a || 1) - 1; col = Math.max(1, isNaN(n[1]) ? 1 : n[1]) - 1; line(row); break;
      case "A": row = Math.max(top, row - (a || 1)); break;
      case "B": row = row + (a || 1); line(row); break;
      case "C": col = col + (a || 1); break;
      case "D": col = Math.max(0, col - (a || 1)); break;
      case "G": col = Math.max(1, a || 1) - 1; break;
      default: break; // colours (m), modes (h/l) and the rest: no effect on the text
    }
  }
  function write(data) {
    for (var i = 0; i < data.length; i++) {
      var ch = data[i];
      if (ch === "\x1b") {
        var next = data[i + 1];
        if (next === "[") {
          var j = i + 2, params = "";
          while (j < data.length && /[0-9;?<>=!]/.test(data[j])) params += data[j++];
          if (j < data.length) csi(params.replace(/[?<>=!]/g, ""), data[j]);
          i = j;
        } else if (next === "]") {
          var k = i + 2;
          while (k < data.length && data[k] !== "\x07" && !(data[k] === "\x1b" && data[k + 1] === "\\")) k++;
          i = data[k] === "\x07" ? k : k + 1;
        } else i += 1;
      } else if (ch === "\n") { row++; line(row); }
      else if (ch === "\r") col = 0;
      else if (ch === "\b") col = Math.max(0, col - 1);
      else if (ch === "\t") col = (Math.floor(col / 8) + 1) * 8;
      else if (ch >= " " || ch > "\x7f") put(ch);
    }
  }
  function render() {
    screen.textContent = rows.map(function (l) { return l.join("").replace(/\s+$/, ""); }).join("\n");
    screen.scrollTop = screen.scrollHeight;
    clock.textContent = t.toFixed(1) + "s";
  }
  function advanceTo(time) {
    while (idx < frames.length && frames[idx][0] <= time) {
      var f = frames[idx++];
      if (f[1] === "o") write(f[2]);
      else if (f[1] === "r") { var m = /^(\d+)x(\d+)$/.exec(f[2]); if (m) height = parseInt(m[2], 10); }
    }
    t = time === Infinity ? (frames.length ? frames[frames.length - 1][0] : 0) : time;
    render();
  }
  function stop() { if (timer) clearInterval(timer); timer = null; playBtn.textContent = idx >= frames.length ? "Replay" : "Play"; }
  function tick() {
    var now = Date.now();
    var dt = (now - lastTick) / 1000 * parseFloat(speedSel.value || "1");
    lastTick = now;
    // Long idle gaps are compressed to one second, as asciinema's idle limit does.
    if (idx < frames.length && frames[idx][0] - t > 1) t = frames[idx][0] - 1;
    advanceTo(t + dt);
    if (idx >= frames.length) stop();
  }
  function play() {
    if (timer) { stop(); return; }
    if (idx >= frames.length) { reset(); render(); }
    lastTick = Date.now();
    timer = setInterval(tick, 50);
    playBtn.textContent = "Pause";
  }
  playBtn.addEventListener("click", play);
  endBtn.addEventListener("click", function () { stop(); advanceTo(Infinity); stop(); });
  fetch(root.getAttribute("data-cast"), { credentials: "same-origin" }).then(function (r) {
    if (!r.ok) throw new Error("recording not available (" + r.status + ")");
    return r.text();
  }).then(function (text) {
    var lines = text.split("\n").filter(function (l) { return l.trim() !== ""; });
    header = JSON.parse(lines[0]);
    height = header.height || 24;
    frames = lines.slice(1).map(function (l) { return JSON.parse(l); });
    root.setAttribute("data-frames", String(frames.length));
    render();
  }).catch(function (e) { screen.textContent = "Cannot load the recording: " + e.message; });
})();
`;
