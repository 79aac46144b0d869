// Client-side search: ?q= filters the fixed catalogue by name, category or SKU (case-insensitive).
(function () {
  "use strict";
  var q = (Acme.param("q") || "").trim();
  document.getElementById("q").value = q;
  var needle = q.toLowerCase();
  var hits = Acme.products.filter(function (p) {
    return !needle || (p.name + " " + p.category + " " + p.sku).toLowerCase().indexOf(needle) !== -1;
  });

  var count = document.getElementById("result-count");
  if (!q) count.textContent = "Showing all " + hits.length + " products";
  else count.textContent = hits.length + (hits.length === 1 ? " result" : " results") + " for “" + q + "”";

  var list = document.getElementById("results");
  if (!hits.length) {
    list.innerHTML = '<li class="product-row muted">No products match your search.</li>';
    return;
  }
  list.innerHTML = hits.map(function (p) {
    return '<li class="product-row" data-id="' + p.id + '">' + Acme.thumb(p, 44) +
      '<div style="flex:1"><a class="name" href="product.html?id=' + p.id + '">' + Acme.esc(p.name) + "</a>" +
      '<div class="meta">' + p.category + " · " + p.sku + "</div></div>" +
      '<div class="price">' + Acme.money(p.price) + "</div>" +
      '<a class="btn btn-small" href="product.html?id=' + p.id + '">View</a></li>';
  }).join("");
})();
