// Sign-in: alice / hunter2 is the only account. Success goes to the dashboard.
(function () {
  "use strict";
  var USERS = { alice: "hunter2" };
  var form = document.getElementById("login-form");
  var error = document.getElementById("login-error");

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var name = document.getElementById("username").value.trim();
    var password = document.getElementById("password").value;
    if (!name || !password) {
      error.textContent = "Enter your username and password.";
      error.classList.remove("hidden");
      return;
    }
    if (USERS[name] !== password) {
      error.textContent = "Incorrect username or password.";
      error.classList.remove("hidden");
      document.getElementById("password").value = "";
      return;
    }
    Acme.signIn(name, document.getElementById("remember").checked);
    location.href = "dashboard.html";
  });
})();
