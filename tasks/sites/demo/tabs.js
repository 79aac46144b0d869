// Tabs show one panel at a time; the chosen plan is kept in localStorage.
(function () {
  "use strict";
  var PRICES = { Starter: "$0.00", Team: "$49.00", Business: "$199.00" };
  var tabs = Array.prototype.slice.call(document.querySelectorAll(".tab"));

  function show(tab) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      document.getElementById(t.getAttribute("aria-controls")).classList.toggle("hidden", !on);
    });
  }
  tabs.forEach(function (t) {
    t.addEventListener("click", function () { show(t); });
  });

  function render(plan) {
    document.getElementById("current-plan").textContent = plan;
    document.getElementById("overview-plan").textContent = plan;
    document.getElementById("next-invoice").textContent = PRICES[plan];
    Array.prototype.forEach.call(document.querySelectorAll(".plan"), function (card) {
      var current = card.getAttribute("data-plan") === plan;
      card.classList.toggle("current", current);
      var button = card.querySelector(".choose");
      button.disabled = current;
      button.textContent = current ? "Current plan" : "Choose " + card.getAttribute("data-plan");
      button.className = "btn choose" + (current ? "" : " btn-primary");
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".choose"), function (button) {
    button.addEventListener("click", function () {
      var plan = button.getAttribute("data-plan");
      localStorage.setItem("acme.plan", plan);
      render(plan);
      var saved = document.getElementById("plan-saved");
      saved.textContent = "Your plan is now " + plan + ".";
      saved.classList.remove("hidden");
    });
  });

  render(localStorage.getItem("acme.plan") || "Starter");
})();
