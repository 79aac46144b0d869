// Drag and drop with plain mouse events (mousedown / mousemove / mouseup), not HTML5 draggable:
// a card follows the pointer and lands in the column under the pointer when the button is released.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var columns = Array.prototype.slice.call(board.querySelectorAll(".column"));
  var drag = null; // {card, clone, x0, y0, left, top, moved}

  function counts() {
    columns.forEach(function (col) {
      col.querySelector(".count").textContent = col.querySelectorAll(".kcard").length;
    });
  }

  function columnAt(x, y) {
    for (var i = 0; i < columns.length; i++) {
      var r = columns[i].getBoundingClientRect();
      if (x >= r.left && x <= r.right && y >= r.top && y <= r.bottom) return columns[i];
    }
    return null;
  }

  function highlight(col) {
    columns.forEach(function (c) { c.classList.toggle("drop-target", c === col); });
  }

  board.addEventListener("mousedown", function (e) {
    var card = e.target.closest(".kcard");
    if (!card || e.button !== 0) return;
    e.preventDefault();
    var r = card.getBoundingClientRect();
    drag = { card: card, clone: null, x0: e.clientX, y0: e.clientY, left: r.left, top: r.top, width: r.width, moved: false };
  });

  document.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x0;
    var dy = e.clientY - drag.y0;
    if (!drag.moved) {
      if (Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      drag.clone = drag.card.cloneNode(true);
      drag.clone.classList.add("dragging");
      drag.clone.style.width = drag.width + "px";
      document.body.appendChild(drag.clone);
      drag.card.classList.add("ghost");
    }
    drag.clone.style.left = drag.left + dx + "px";
    drag.clone.style.top = drag.top + dy + "px";
    highlight(columnAt(e.clientX, e.clientY));
  });

  document.addEventListener("mouseup", function (e) {
    if (!drag) return;
    var d = drag;
    drag = null;
    if (!d.moved) return;
    d.clone.remove();
    d.card.classList.remove("ghost");
    highlight(null);
    var col = columnAt(e.clientX, e.clientY);
    var from = d.card.closest(".column");
    if (!col || col === from) return;
    col.querySelector(".cards").appendChild(d.card);
    counts();
    document.getElementById("board-status").textContent =
      "Moved “" + d.card.querySelector(".title").textContent + "” to " + col.getAttribute("data-name") + ".";
  });

  counts();
})();
