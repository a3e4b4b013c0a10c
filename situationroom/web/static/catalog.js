// The data catalogue (/catalog): find an indicator as you type; sign in (or out) to see the figures of restricted
// indicators your department may read. The page itself is drawn by the server.
"use strict";

(() => {
  const labels = JSON.parse(document.getElementById("page-data").textContent).labels;
  const filter = document.getElementById("filter");
  filter.addEventListener("input", () => {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const section of document.querySelectorAll("main section")) {
      let shown = 0;
      for (const row of section.querySelectorAll("tbody tr")) {
        const hit = words.every((w) => row.dataset.words.includes(w));
        row.hidden = !hit;
        if (hit) shown += 1;
      }
      section.hidden = shown === 0;
    }
  });

  const who = document.getElementById("who");
  const form = document.getElementById("login");
  const button = document.createElement("button");
  button.type = "button";
  const signedIn = who.dataset.signedIn === "true";
  button.textContent = signedIn ? labels.sign_out : labels.sign_in;
  who.after(button);
  button.addEventListener("click", async () => {
    if (signedIn) {
      await window.SRSession.signOut();
      window.location.reload();
    } else {
      form.hidden = !form.hidden;
      if (!form.hidden) form.querySelector("input").focus();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await window.SRSession.signIn(form.elements.token.value);
      window.location.reload();
    } catch (err) {
      form.querySelector(".error").textContent = err.message;
    }
  });
})();
