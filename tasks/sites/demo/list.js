// 100 parts in the page (scroll the page) and 50 bins in a fixed-height box (scroll the box).
// Names come from fixed word lists, so the page is identical on every load.
(function () {
  "use strict";
  var MATERIALS = ["Brass", "Steel", "Oak", "Nylon", "Copper", "Aluminium", "Rubber", "Walnut", "Zinc", "Maple"];
  var THINGS = ["hinge", "bracket", "washer", "caster", "handle", "spacer", "clamp", "knob", "bolt", "rail", "latch"];
  function pad(n, width) { return ("000" + n).slice(-width); }

  var parts = document.getElementById("parts");
  var html = "";
  for (var i = 1; i <= 100; i++) {
    var code = "P-" + pad(i, 3);
    html += '<li class="list-item" role="option" aria-selected="false" data-id="' + code + '">' +
      '<span class="tick"></span><span class="code">' + code + "</span>" +
      '<span class="desc">' + MATERIALS[(i * 3) % 10] + " " + THINGS[(i * 7) % 11] + "</span>" +
      '<span class="muted small">' + ((i * 37) % 90 + 5) + " in stock</span></li>";
  }
  parts.innerHTML = html;

  var bins = document.getElementById("bins");
  html = "";
  for (var b = 1; b <= 50; b++) {
    var bin = "B-" + pad(b, 2);
    html += '<li class="list-item" role="option" aria-selected="false" data-bin="' + bin + '">' +
      '<span class="tick"></span><span class="code">' + bin + "</span>" +
      '<span class="desc">Aisle ' + (Math.floor((b - 1) / 10) + 1) + ", shelf " + "ABCDE".charAt((b - 1) % 5) + "</span></li>";
  }
  bins.innerHTML = html;

  function pickedParts() {
    return Array.prototype.map.call(parts.querySelectorAll('[aria-selected="true"]'), function (el) {
      return el.getAttribute("data-id");
    });
  }

  parts.addEventListener("click", function (e) {
    var item = e.target.closest(".list-item");
    if (!item) return;
    item.setAttribute("aria-selected", item.getAttribute("aria-selected") === "true" ? "false" : "true");
    var picked = pickedParts();
    document.getElementById("picked-summary").textContent = "Selected parts: " + (picked.length ? picked.join(", ") : "none");
  });

  bins.addEventListener("click", function (e) {
    var item = e.target.closest(".list-item");
    if (!item) return;
    Array.prototype.forEach.call(bins.children, function (el) {
      el.setAttribute("aria-selected", el === item ? "true" : "false");
    });
    document.getElementById("bin-summary").textContent = "Selected bin: " + item.getAttribute("data-bin");
  });
})();
