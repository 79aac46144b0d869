// Product details for ?id=; "Add to cart" adds the chosen quantity to the localStorage cart.
(function () {
  "use strict";
  var p = Acme.product(Acme.param("id"));
  if (!p) {
    document.getElementById("missing").classList.remove("hidden");
    return;
  }
  document.title = p.name + " · Acme Supply";
  document.getElementById("picture").innerHTML = Acme.thumb(p, 360);
  document.getElementById("p-category").textContent = p.category;
  document.getElementById("p-name").textContent = p.name;
  document.getElementById("p-price").textContent = Acme.money(p.price);
  document.getElementById("p-description").textContent = p.description;
  document.getElementById("p-sku").textContent = p.sku;
  document.getElementById("product").classList.remove("hidden");

  document.getElementById("add-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var qty = parseInt(document.getElementById("qty").value, 10);
    var added = document.getElementById("added");
    if (!(qty >= 1 && qty <= 99)) {
      added.className = "alert alert-error";
      added.textContent = "Enter a quantity between 1 and 99.";
      return;
    }
    Acme.addToCart(p.id, qty);
    added.className = "alert alert-success";
    added.innerHTML = "Added " + qty + " × " + Acme.esc(p.name) + ' to your cart. <a href="cart.html" id="view-cart">View cart →</a>';
  });
})();
