// lossgap token viewer: draws one document's tokens coloured by gap, with a tooltip and a category filter.
// Reads its data from <script type="application/json" id="viewer-data">. Document text is only ever put in
// the page through textContent / createTextNode, never parsed as HTML.
(function () {
  "use strict";
  var dataNode = document.getElementById("viewer-data");
  if (!dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  var WINS = [103, 169, 207], LOSES = [239, 138, 98];
  var docSelect = document.getElementById("doc-select");
  var filterSelect = document.getElementById("filter-select");
  var cutsSelect = document.getElementById("cuts-select");  // unit runs only: whose token boundaries to mark
  var stats = document.getElementById("filter-stats");
  var meta = document.getElementById("doc-meta");
  var textBox = document.getElementById("doc-text");
  var tip = document.getElementById("tooltip");
  var current = -1;
  var spans = [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function gapOf(doc, i) {
    var b = doc.lb[i], c = doc.lc[i];
    return (b === null || c === null) ? null : b - c;
  }

  function colour(gap) {
    var t = Math.max(-1, Math.min(1, gap / data.scale));
    var end = t >= 0 ? WINS : LOSES, a = Math.abs(t);
    var rgb = end.map(function (v) { return Math.round(255 + (v - 255) * a); });
    return "rgb(" + rgb.join(",") + ")";
  }

  // Append `text` to `parent`, drawing spaces, tabs and newlines visibly while keeping them in the text flow.
  function appendVisible(parent, text) {
    var parts = text.split(/( |\t|\r?\n)/);
    for (var k = 0; k < parts.length; k++) {
      var part = parts[k];
      if (part === "") { continue; }
      if (part === " ") { parent.appendChild(el("span", "ws sp", " ")); }
      else if (part === "\t") { parent.appendChild(el("span", "ws tab", "\u2192\t")); }
      else if (part === "\n" || part === "\r\n") {
        parent.appendChild(el("span", "ws nl", "\u21b5"));
        parent.appendChild(document.createTextNode("\n"));
      } else { parent.appendChild(document.createTextNode(part)); }
    }
  }

  function showable(s) {
    return s.replace(/ /g, "\u2423").replace(/\r/g, "\u240d").replace(/\n/g, "\u21b5").replace(/\t/g, "\u2192");
  }

  function fmt(x, digits) { return x === null || x === undefined ? "\u2014" : x.toFixed(digits); }
  // A probability with sensible precision: 0.0421, or 9.2e-10 for a loss of 20.8 nats (never "0.0000").
  function prob(loss) {
    if (loss === null || loss === undefined) { return "\u2014"; }
    var p = Math.exp(-loss);
    return p >= 0.001 ? p.toFixed(4) : p.toExponential(1);
  }
  function signed(x) { return x === null ? "\u2014" : (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(4); }

  // -- filter ------------------------------------------------------------------------------------------
  function buildFilterMenu() {
    if (data.masks.length) {
      var presets = el("optgroup");
      presets.label = "token kinds (as in the headline)";
      data.masks.forEach(function (m) {
        var o = el("option", null, m.name + " (" + m.condition + ")");
        o.value = "mask\u0000" + m.name;
        presets.appendChild(o);
      });
      filterSelect.appendChild(presets);
    }
    Object.keys(data.vocab).forEach(function (feature) {
      var group = el("optgroup");
      group.label = feature;
      data.vocab[feature].forEach(function (value, code) {
        var o = el("option", null, feature + " = " + value);
        o.value = feature + "\u0000" + code;
        group.appendChild(o);
      });
      filterSelect.appendChild(group);
    });
  }

  function matcher() {
    var v = filterSelect.value;
    if (!v) { return null; }
    var cut = v.indexOf("\u0000");
    if (v.slice(0, cut) === "mask") {
      var name = v.slice(cut + 1);
      return function (doc, i) { var m = doc.masks[name]; return !!m && m[i] === 1; };
    }
    var feature = v.slice(0, cut), code = Number(v.slice(cut + 1));
    return function (doc, i) { var c = doc.cat[feature]; return !!c && c[i] === code; };
  }

  function applyFilter() {
    if (current < 0) { return; }
    var doc = data.docs[current], keep = matcher(), n = 0, sum = 0, m = 0;
    for (var i = 0; i < spans.length; i++) {
      var on = !keep || keep(doc, i);
      spans[i].classList.toggle("dim", !on);
      if (on) {
        n++;
        var g = gapOf(doc, i);
        if (g !== null) { sum += g; m++; }
      }
    }
    stats.textContent = n.toLocaleString() + " of " + spans.length.toLocaleString() + " tokens shown" +
      (m ? "; mean gap " + signed(sum / m) + " nats" : "");
  }

  // -- tooltip -----------------------------------------------------------------------------------------
  function row(table, key, value, cls) {
    var tr = el("tr");
    tr.appendChild(el("td", "k", key));
    tr.appendChild(el("td", cls || null, value));
    table.appendChild(tr);
  }

  function showTip(span, event) {
    var doc = data.docs[current], i = Number(span.dataset.i);
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var title = el("div");
    title.appendChild(el("span", "tt-token", showable(doc.text[i]) || "(no text)"));
    title.appendChild(el("span", "tt-pos", "position " + doc.pos[i]));
    tip.appendChild(title);
    var t = el("table", "tt-losses");
    var lb = doc.lb[i], lc = doc.lc[i], g = gapOf(doc, i);
    var head = el("tr");
    var ent = doc.ent || {}, rank = doc.rank || {}, top = doc.top || {};
    var extra = Object.keys(ent).length > 0;
    ["", "loss (nats)", "p = exp(\u2212loss)"].concat(extra ? ["rank", "entropy"] : []).forEach(function (h) {
      head.appendChild(el("td", "k", h));
    });
    t.appendChild(head);
    [[data.baseline + " (baseline)", lb, "b"], [data.candidate + " (candidate)", lc, "c"]].forEach(function (m) {
      var tr = el("tr");
      tr.appendChild(el("td", "k", m[0]));
      tr.appendChild(el("td", "num", fmt(m[1], 4)));
      tr.appendChild(el("td", "num", prob(m[1])));
      if (extra) {
        var r = rank[m[2]] ? rank[m[2]][i] : null, e = ent[m[2]] ? ent[m[2]][i] : null;
        tr.appendChild(el("td", "num", r === null || r === undefined ? "\u2014" : String(r)));
        tr.appendChild(el("td", "num", fmt(e, 3)));
      }
      t.appendChild(tr);
    });
    var gr = el("tr");
    gr.appendChild(el("td", "k", "gap"));
    gr.appendChild(el("td", "num tt-gap " + (g === null ? "" : g > 0 ? "pos" : g < 0 ? "neg" : ""), g === null ? "\u2014" : signed(g)));
    t.appendChild(gr);
    tip.appendChild(t);
    [["b", data.baseline], ["c", data.candidate]].forEach(function (m) {
      var list = top[m[0]] ? top[m[0]][i] : null;
      if (!list || !list.length) { return; }
      var p = el("div", "tt-top");
      p.appendChild(el("span", "k", m[1] + " predicted: "));
      p.appendChild(document.createTextNode(list.map(function (x) {
        return showable(x[0]) + " " + Math.exp(x[1]).toFixed(3);
      }).join(" \u00b7 ")));
      tip.appendChild(p);
    });
    var f = el("table");
    Object.keys(doc.cat).forEach(function (feature) {
      if (feature === "repeat_len_bin") { return; }
      var c = doc.cat[feature][i];
      if (c >= 0) { row(f, feature, data.vocab[feature][c]); }
    });
    Object.keys(doc.num).forEach(function (feature) {
      var x = doc.num[feature][i];
      if (x !== null) { row(f, feature, String(x)); }
    });
    if (f.firstChild) { tip.appendChild(el("hr")); tip.appendChild(f); }
    tip.hidden = false;
    var r = span.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
    var x = Math.min(Math.max(4, r.left), window.innerWidth - w - 8);
    var y = r.bottom + 6 + h > window.innerHeight ? r.top - h - 6 : r.bottom + 6;
    tip.style.left = x + "px";
    tip.style.top = Math.max(4, y) + "px";
  }

  // Append `text` (characters [from, from + its length) of a unit's pre + text) to `parent`, with a boundary mark
  // before each character offset in `cuts`. Offsets count code points, as Python's do.
  function appendCut(parent, text, from, cuts) {
    var chars = Array.from(text), at = 0;
    cuts.forEach(function (c) {
      var k = c - from;
      if (k < 0 || k >= chars.length) { return; }
      if (k > at) { appendVisible(parent, chars.slice(at, k).join("")); }
      parent.appendChild(el("span", "tb"));
      at = k;
    });
    if (at < chars.length) { appendVisible(parent, chars.slice(at).join("")); }
  }

  // -- document ----------------------------------------------------------------------------------------
  function render(index) {
    current = index;
    docSelect.value = String(index);
    var doc = data.docs[index];
    meta.textContent = doc.doc_id + " \u00b7 " + doc.domain + " \u00b7 positions " + doc.pos_start + "\u2013" +
      (doc.pos_end - 1) + " of " + (doc.n_positions - 1) + " scored";
    while (textBox.firstChild) { textBox.removeChild(textBox.firstChild); }
    spans = [];
    if (doc.pos_start > 1) { textBox.appendChild(el("span", "cut", "[\u2026 " + (doc.pos_start - 1) + " tokens before]\n")); }
    var frag = document.createDocumentFragment();
    var model = cutsSelect ? cutsSelect.value : "";
    var cuts = model && doc.cuts ? doc.cuts[model] : null;
    for (var i = 0; i < doc.pos.length; i++) {
      var here = cuts ? cuts[i] : [], preLength = Array.from(doc.pre[i]).length;
      if (doc.pre[i]) { var pre = el("span", "pre"); appendCut(pre, doc.pre[i], 0, here); frag.appendChild(pre); }
      var span = el("span", "tok");
      span.dataset.i = String(i);
      span.dataset.pos = String(doc.pos[i]);
      var g = gapOf(doc, i);
      if (g === null) { span.classList.add("nogap"); } else { span.style.backgroundColor = colour(g); }
      if (doc.text[i] === "") { span.classList.add("empty"); } else { appendCut(span, doc.text[i], preLength, here); }
      frag.appendChild(span);
      spans.push(span);
    }
    textBox.appendChild(frag);
    if (doc.pos_end < doc.n_positions) {
      textBox.appendChild(el("span", "cut", "\n[\u2026 " + (doc.n_positions - doc.pos_end) + " tokens after]"));
    }
    applyFilter();
  }

  function focus(from, to) {
    spans.forEach(function (s) {
      var p = Number(s.dataset.pos);
      s.classList.toggle("focus", p >= from && p < to);
    });
    var first = textBox.querySelector(".tok.focus");
    if (first) {
      textBox.scrollTop = first.offsetTop - textBox.offsetTop - textBox.clientHeight / 3;
    }
  }

  function fromHash() {
    var m = /^#doc-(\d+)(?:-(\d+))?(?:-(\d+))?$/.exec(window.location.hash);
    if (!m || Number(m[1]) >= data.docs.length) { return false; }
    render(Number(m[1]));
    if (m[2] !== undefined) {
      var from = Number(m[2]);
      focus(from, m[3] !== undefined ? Number(m[3]) : from + 1);
    }
    document.getElementById("viewer").scrollIntoView();
    return true;
  }

  data.docs.forEach(function (doc, i) {
    var o = el("option", null, doc.doc_id + "  (" + doc.domain + ")");
    o.value = String(i);
    docSelect.appendChild(o);
  });
  buildFilterMenu();
  docSelect.addEventListener("change", function () { render(Number(docSelect.value)); });
  if (cutsSelect) { cutsSelect.addEventListener("change", function () { render(current); }); }
  filterSelect.addEventListener("change", applyFilter);
  textBox.addEventListener("mouseover", function (e) {
    var span = e.target.closest ? e.target.closest(".tok") : null;
    if (span) { showTip(span, e); }
  });
  textBox.addEventListener("mouseleave", function () { tip.hidden = true; });
  textBox.addEventListener("scroll", function () { tip.hidden = true; });
  window.addEventListener("hashchange", fromHash);
  if (data.docs.length && !fromHash()) { render(0); }
})();
