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

  window.SRSession.mountButton(labels);
})();
