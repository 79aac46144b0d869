// File list: double-click a name to rename it in place (Enter saves, Escape cancels); a custom
// context menu on right-click. Messages stay on screen until the next one (no timers).
(function () {
  "use strict";
  var FILES = [
    ["Q3-report.pdf", "Alice Smith", "2 June", "2.4 MB"],
    ["budget-draft.xlsx", "Dana Ruiz", "30 May", "88 KB"],
    ["notes.txt", "Bob Okafor", "28 May", "4 KB"],
    ["logo-final.svg", "Chen Wei", "21 May", "36 KB"],
    ["roadmap.pdf", "Alice Smith", "15 May", "1.1 MB"],
    ["supplier-contacts.csv", "Dana Ruiz", "9 May", "12 KB"]
  ];
  var COLORS = { pdf: "#c62f2f", xlsx: "#1c7f4a", txt: "#5f6b7c", svg: "#c98a12", csv: "#1f7f8c" };
  var tbody = document.querySelector("#files tbody");
  var menu = document.getElementById("menu");
  var toast = document.getElementById("toast");
  var menuRow = null;

  function icon(name) {
    var color = COLORS[name.split(".").pop()] || "#5f6b7c";
    return '<svg width="28" height="28" viewBox="0 0 28 28" aria-hidden="true"><rect width="28" height="28" rx="6" fill="' +
      color + '" fill-opacity="0.13"/><path d="M9 6h7l4 4v12H9z M16 6v4h4" fill="none" stroke="' + color +
      '" stroke-width="1.5" stroke-linejoin="round"/></svg>';
  }

  function rowHtml(f) {
    return '<tr data-file="' + Acme.esc(f[0]) + '"><td><div class="file-name">' + icon(f[0]) +
      '<span class="fname">' + Acme.esc(f[0]) + '</span><span class="star hidden">★</span></div></td>' +
      "<td>" + f[1] + "</td><td>" + f[2] + '</td><td class="num">' + f[3] + "</td></tr>";
  }
  tbody.innerHTML = FILES.map(rowHtml).join("");

  function say(text) {
    toast.textContent = text;
    toast.classList.remove("hidden");
  }
  function exists(name) {
    return Array.prototype.some.call(tbody.rows, function (r) { return r.getAttribute("data-file") === name; });
  }
  function select(row) {
    Array.prototype.forEach.call(tbody.rows, function (r) { r.classList.toggle("selected", r === row); });
  }

  function startRename(row) {
    var label = row.querySelector(".fname");
    if (!label || row.querySelector(".rename")) return;
    var old = row.getAttribute("data-file");
    var input = document.createElement("input");
    input.className = "input rename";
    input.value = old;
    input.setAttribute("aria-label", "New name");
    label.replaceWith(input);
    input.focus();
    input.select();
    var finished = false;
    function finish(save) {
      if (finished) return;
      finished = true;
      var name = input.value.trim();
      var span = document.createElement("span");
      span.className = "fname";
      if (save && name && name !== old && !exists(name)) {
        row.setAttribute("data-file", name);
        span.textContent = name;
        say("Renamed " + old + " to " + name);
      } else {
        span.textContent = old;
        if (save && name && name !== old) say("A file named " + name + " already exists");
      }
      input.replaceWith(span);
    }
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); finish(true); }
      if (e.key === "Escape") { e.preventDefault(); finish(false); }
    });
    input.addEventListener("blur", function () { finish(true); });
  }

  tbody.addEventListener("click", function (e) {
    var row = e.target.closest("tr");
    if (row) select(row);
  });
  tbody.addEventListener("dblclick", function (e) {
    var name = e.target.closest(".file-name");
    if (name) startRename(name.closest("tr"));
  });

  function hideMenu() {
    menu.classList.add("hidden");
    menuRow = null;
  }
  tbody.addEventListener("contextmenu", function (e) {
    var row = e.target.closest("tr");
    if (!row) return;
    e.preventDefault();
    menuRow = row;
    select(row);
    var starred = !row.querySelector(".star").classList.contains("hidden");
    menu.querySelector('[data-action="star"]').textContent = starred ? "Remove star" : "Add star";
    menu.classList.remove("hidden");
    // Keep the menu inside the viewport.
    var x = Math.min(e.clientX, window.innerWidth - menu.offsetWidth - 8);
    var y = Math.min(e.clientY, window.innerHeight - menu.offsetHeight - 8);
    menu.style.left = x + "px";
    menu.style.top = y + "px";
  });
  document.addEventListener("mousedown", function (e) {
    if (!menu.contains(e.target)) hideMenu();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") hideMenu();
  });
  window.addEventListener("scroll", hideMenu);

  menu.addEventListener("click", function (e) {
    var button = e.target.closest("button");
    if (!button || !menuRow) return;
    var row = menuRow;
    var name = row.getAttribute("data-file");
    hideMenu();
    switch (button.getAttribute("data-action")) {
      case "open": say("Opened " + name); break;
      case "download": say("Downloading " + name); break;
      case "rename": startRename(row); break;
      case "star":
        var star = row.querySelector(".star");
        star.classList.toggle("hidden");
        say(star.classList.contains("hidden") ? "Removed the star from " + name : "Starred " + name);
        break;
      case "duplicate":
        var dot = name.lastIndexOf(".");
        var copy = dot > 0 ? name.slice(0, dot) + " (copy)" + name.slice(dot) : name + " (copy)";
        var cells = row.cells;
        row.insertAdjacentHTML("afterend", rowHtml([copy, cells[1].textContent, cells[2].textContent, cells[3].textContent]));
        say("Made a copy of " + name);
        break;
      case "delete":
        row.remove();
        say(name + " moved to Trash");
        break;
    }
  });
})();
