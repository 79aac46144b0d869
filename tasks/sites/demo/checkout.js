// The checkout flow shared by cart.html, shipping.html, review.html and confirmation.html.
// Shipping details live in localStorage; the order number is a hash of the order's contents,
// so the same inputs always give the same number.
(function () {
  "use strict";
  var SHIPPING_KEY = "acme.shipping";
  var ORDER_KEY = "acme.lastOrder";
  var METHODS = {
    standard: { label: "Standard (5–7 business days)", price: 0 },
    express: { label: "Express (1–2 business days)", price: 12 }
  };

  function $(id) { return document.getElementById(id); }

  function stepper(active) {
    var names = ["Cart", "Shipping", "Review", "Confirmation"];
    $("steps").innerHTML = names.map(function (n, i) {
      var cls = i < active ? "done" : i === active ? "on" : "";
      return '<span class="' + cls + '">' + (i + 1) + ". " + n + "</span>";
    }).join("");
  }

  function linesTable(lines, editable) {
    if (!lines.length) return '<p class="muted" id="empty-cart">Your cart is empty.</p>';
    return '<table class="table" id="cart-table"><thead><tr><th>Product</th><th class="num">Price</th>' +
      '<th class="num">Quantity</th><th class="num">Total</th>' + (editable ? "<th></th>" : "") + "</tr></thead><tbody>" +
      lines.map(function (l) {
        return '<tr data-id="' + l.id + '"><td><div class="row">' + Acme.thumb(l.product, 36) +
          '<a href="product.html?id=' + l.id + '">' + Acme.esc(l.product.name) + "</a></div></td>" +
          '<td class="num">' + Acme.money(l.product.price) + "</td>" +
          '<td class="num qty">' + l.qty + "</td>" +
          '<td class="num">' + Acme.money(l.total) + "</td>" +
          (editable ? '<td class="num"><button class="btn btn-small remove" type="button">Remove</button></td>' : "") +
          "</tr>";
      }).join("") + "</tbody></table>";
  }

  function subtotal(lines) {
    return lines.reduce(function (s, l) { return s + l.total; }, 0);
  }

  function orderNumber(order) {
    var text = JSON.stringify([order.items, order.shipping]);
    var h = 5381;
    for (var i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
    return "ACME-" + (10000 + (h % 90000));
  }

  function cartPage() {
    stepper(0);
    function render() {
      var lines = Acme.cartLines();
      $("cart-lines").innerHTML = linesTable(lines, true);
      $("subtotal").textContent = Acme.money(subtotal(lines));
      $("checkout").disabled = !lines.length;
    }
    $("cart-lines").addEventListener("click", function (e) {
      if (!e.target.classList.contains("remove")) return;
      var id = e.target.closest("tr").getAttribute("data-id");
      Acme.saveCart(Acme.cart().filter(function (it) { return it.id !== id; }));
      render();
    });
    $("checkout").addEventListener("click", function () { location.href = "shipping.html"; });
    render();
  }

  function shippingPage() {
    stepper(1);
    var form = $("shipping-form");
    var saved = Acme.readJSON(localStorage, SHIPPING_KEY, null);
    if (saved) {
      ["name", "street", "city", "postcode"].forEach(function (k) { $(k).value = saved[k] || ""; });
      if (saved.country) $("country").value = saved.country;
      var radio = form.querySelector('input[name="method"][value="' + saved.method + '"]');
      if (radio) radio.checked = true;
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var missing = [];
      ["name", "street", "city", "postcode"].forEach(function (k) {
        var empty = !$(k).value.trim();
        $(k).classList.toggle("invalid", empty);
        if (empty) missing.push($(k).getAttribute("data-label"));
      });
      if (missing.length) {
        $("shipping-error").textContent = "Please fill in: " + missing.join(", ") + ".";
        $("shipping-error").classList.remove("hidden");
        return;
      }
      localStorage.setItem(SHIPPING_KEY, JSON.stringify({
        name: $("name").value.trim(),
        street: $("street").value.trim(),
        city: $("city").value.trim(),
        postcode: $("postcode").value.trim(),
        country: $("country").value,
        method: form.querySelector('input[name="method"]:checked').value
      }));
      location.href = "review.html";
    });
    if (!Acme.cartLines().length) $("shipping-note").classList.remove("hidden");
  }

  function reviewPage() {
    stepper(2);
    var lines = Acme.cartLines();
    var ship = Acme.readJSON(localStorage, SHIPPING_KEY, null);
    if (!lines.length || !ship) {
      $("review-missing").classList.remove("hidden");
      $("review").classList.add("hidden");
      return;
    }
    var method = METHODS[ship.method];
    $("review-lines").innerHTML = linesTable(lines, false);
    $("ship-to").innerHTML = Acme.esc(ship.name) + "<br>" + Acme.esc(ship.street) + "<br>" +
      Acme.esc(ship.city) + " " + Acme.esc(ship.postcode) + "<br>" + Acme.esc(ship.country);
    $("ship-method").textContent = method.label;
    $("r-subtotal").textContent = Acme.money(subtotal(lines));
    $("r-shipping").textContent = method.price ? Acme.money(method.price) : "Free";
    $("r-total").textContent = Acme.money(subtotal(lines) + method.price);
    $("place-order").addEventListener("click", function () {
      var order = {
        items: lines.map(function (l) { return { id: l.id, name: l.product.name, qty: l.qty, price: l.product.price }; }),
        shipping: ship,
        total: Math.round((subtotal(lines) + method.price) * 100) / 100
      };
      order.number = orderNumber(order);
      localStorage.setItem(ORDER_KEY, JSON.stringify(order));
      localStorage.removeItem("acme.cart");
      location.href = "confirmation.html";
    });
  }

  function confirmationPage() {
    stepper(3);
    var order = Acme.readJSON(localStorage, ORDER_KEY, null);
    if (!order) {
      $("no-order").classList.remove("hidden");
      return;
    }
    $("order").classList.remove("hidden");
    $("order-number").textContent = order.number;
    $("order-items").textContent = order.items.map(function (it) { return it.qty + " × " + it.name; }).join(", ");
    $("order-ship").textContent = order.shipping.name + ", " + order.shipping.street + ", " + order.shipping.city +
      " " + order.shipping.postcode + ", " + order.shipping.country;
    $("order-method").textContent = METHODS[order.shipping.method].label;
    $("order-total").textContent = Acme.money(order.total);
  }

  window.Checkout = {
    cart: cartPage, shipping: shippingPage, review: reviewPage, confirmation: confirmationPage
  };
})();
