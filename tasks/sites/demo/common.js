// Shared helpers for every Acme Supply page: the header, sign-in state, the cart and money.
// Included right after <header id="site-header">, so the header is drawn before the first paint.
(function () {
  "use strict";

  var USER_KEY = "acme.user";
  var CART_KEY = "acme.cart";

  function readJSON(store, key, fallback) {
    try {
      var raw = store.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  var CATEGORY_COLORS = {
    Lighting: "#c98a12", Office: "#3559c7", Kitchen: "#b4543a", Furniture: "#6a4fb3",
    Electronics: "#1f7f8c", Stationery: "#2c7a43", Home: "#9a4a7c"
  };
  var CATEGORY_ICONS = {
    Lighting: "M9 3h6l3.5 7h-13z M12 10v8 M8 21h8 M12 18v3",
    Office: "M3 15h18v3H3z M5 15l1-6h11l2 6 M8 9V7h6v2",
    Kitchen: "M5 7h11v9a4 4 0 0 1-4 4H9a4 4 0 0 1-4-4z M16 9h1.5a2.5 2.5 0 0 1 0 5H16",
    Furniture: "M7 3h10v9H7z M5.5 12h13v3h-13z M8 15v6 M16 15v6",
    Electronics: "M3 4h18v12H3z M9 20h6 M12 16v4",
    Stationery: "M4 20l4-1 11-11-3-3L5 16z M14 6l3 3",
    Home: "M7 14h10l-1.5 7h-7z M12 14V9 M12 9c0-3 2-5.5 5-5.5 0 3-2 5.5-5 5.5z M12 11c0-2.5-2-4-5-4 0 2.5 2 4 5 4z"
  };

  var Acme = {
    products: window.ACME_PRODUCTS || [],

    product: function (id) {
      for (var i = 0; i < Acme.products.length; i++) {
        if (Acme.products[i].id === id) return Acme.products[i];
      }
      return null;
    },

    money: function (n) {
      return "$" + Number(n).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    },

    esc: function (s) {
      return String(s).replace(/[&<>"']/g, function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      });
    },

    param: function (name) {
      return new URLSearchParams(location.search).get(name);
    },

    // A product picture: a tinted tile with a line icon for its category (inline SVG, no files).
    thumb: function (p, size) {
      var color = CATEGORY_COLORS[p.category] || "#5f6b7c";
      var icon = CATEGORY_ICONS[p.category] || CATEGORY_ICONS.Office;
      return '<svg class="thumb" width="' + size + '" height="' + size + '" viewBox="0 0 48 48" aria-hidden="true">' +
        '<rect width="48" height="48" rx="10" fill="' + color + '" fill-opacity="0.12"/>' +
        '<g transform="translate(12 12)" fill="none" stroke="' + color + '" stroke-width="1.7" ' +
        'stroke-linecap="round" stroke-linejoin="round"><path d="' + icon + '"/></g></svg>';
    },

    // Signed-in user: localStorage when "Remember me" was ticked, else sessionStorage.
    user: function () {
      return localStorage.getItem(USER_KEY) || sessionStorage.getItem(USER_KEY);
    },
    signIn: function (name, remember) {
      (remember ? localStorage : sessionStorage).setItem(USER_KEY, name);
    },
    signOut: function () {
      localStorage.removeItem(USER_KEY);
      sessionStorage.removeItem(USER_KEY);
    },

    // The cart: [{id, qty}] in localStorage.
    cart: function () {
      return readJSON(localStorage, CART_KEY, []);
    },
    saveCart: function (items) {
      localStorage.setItem(CART_KEY, JSON.stringify(items));
      Acme.renderHeader();
    },
    addToCart: function (id, qty) {
      var items = Acme.cart();
      var found = false;
      items.forEach(function (it) {
        if (it.id === id) { it.qty += qty; found = true; }
      });
      if (!found) items.push({ id: id, qty: qty });
      Acme.saveCart(items);
    },
    cartCount: function () {
      return Acme.cart().reduce(function (n, it) { return n + it.qty; }, 0);
    },
    cartLines: function () {
      return Acme.cart().map(function (it) {
        var p = Acme.product(it.id);
        return p ? { id: it.id, qty: it.qty, product: p, total: p.price * it.qty } : null;
      }).filter(Boolean);
    },

    readJSON: readJSON,

    renderHeader: function () {
      var el = document.getElementById("site-header");
      if (!el) return;
      var here = location.pathname.split("/").pop() || "index.html";
      var links = [
        ["index.html", "Home"], ["search.html", "Shop"], ["dashboard.html", "Dashboard"],
        ["contact.html", "Contact"], ["tabs.html", "Account"], ["board.html", "Board"],
        ["files.html", "Files"], ["notes.html", "Notes"], ["integrations.html", "Integrations"]
      ];
      var nav = links.map(function (l) {
        return '<a href="' + l[0] + '"' + (l[0] === here ? ' class="active"' : "") + ">" + l[1] + "</a>";
      }).join("");
      var user = Acme.user();
      var who = user
        ? '<span class="header-user">Signed in as <b>' + Acme.esc(user) + "</b></span>"
        : '<a href="login.html">Sign in</a>';
      el.innerHTML =
        '<div class="inner">' +
        '<a class="brand" href="index.html">' +
        '<svg width="28" height="28" viewBox="0 0 28 28" aria-hidden="true">' +
        '<rect width="28" height="28" rx="7" fill="#f2b93b"/>' +
        '<path d="M8 19.5 14 7l6 12.5M10.4 15h7.2" fill="none" stroke="#13203a" stroke-width="2.4" ' +
        'stroke-linecap="round" stroke-linejoin="round"/></svg>Acme Supply</a>' +
        '<nav class="nav">' + nav + "</nav>" +
        '<div class="header-right">' + who +
        '<a class="cart-link" href="cart.html">' +
        '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M3 4h2l2.4 11h10.2L20 8H6.2"/>' +
        '<circle cx="9" cy="19.5" r="1.4"/><circle cx="17" cy="19.5" r="1.4"/></svg>Cart ' +
        '<span class="cart-count" id="cart-count">' + Acme.cartCount() + "</span></a></div></div>";
    }
  };

  window.Acme = Acme;
  Acme.renderHeader();
})();
