// Contact form: validates in the page (no native bubbles, which screenshots would not show) and
// shows what was sent in the summary card.
(function () {
  "use strict";
  var form = document.getElementById("contact-form");
  var error = document.getElementById("form-error");

  function val(id) { return document.getElementById(id).value.trim(); }
  function yes(id) { return document.getElementById(id).checked ? "Yes" : "No"; }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var problems = [];
    ["name", "email", "topic", "message"].forEach(function (id) {
      document.getElementById(id).classList.remove("invalid");
    });
    function bad(id, msg) { problems.push(msg); document.getElementById(id).classList.add("invalid"); }
    if (!val("name")) bad("name", "Enter your name.");
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(val("email"))) bad("email", "Enter a valid email address.");
    if (!val("topic")) bad("topic", "Choose a topic.");
    if (!val("message")) bad("message", "Write a message.");
    if (!document.getElementById("terms").checked) problems.push("Agree to the privacy policy.");
    if (problems.length) {
      error.textContent = problems.join(" ");
      error.classList.remove("hidden");
      return;
    }
    error.classList.add("hidden");
    var topic = document.getElementById("topic");
    var priority = form.querySelector('input[name="priority"]:checked');
    document.getElementById("thanks").textContent = "Thanks, " + val("name") + "! Your message was sent.";
    document.getElementById("s-name").textContent = val("name");
    document.getElementById("s-email").textContent = val("email");
    document.getElementById("s-company").textContent = val("company") || "—";
    document.getElementById("s-topic").textContent = topic.options[topic.selectedIndex].text;
    document.getElementById("s-priority").textContent = priority ? priority.parentNode.textContent.trim() : "—";
    document.getElementById("s-newsletter").textContent = yes("newsletter");
    document.getElementById("s-copy").textContent = yes("copy");
    document.getElementById("s-message").textContent = val("message");
    document.getElementById("summary-empty").classList.add("hidden");
    document.getElementById("summary").classList.remove("hidden");
  });

  form.addEventListener("reset", function () {
    error.classList.add("hidden");
  });
})();
