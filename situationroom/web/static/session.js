// Signing in on the product's pages (/staff, /ops, /audit, /catalog, /data): the token is posted once, the server answers with an
// HTTP-only, SameSite=Strict session cookie the page never sees, and every change the page asks for carries the
// session's anti-CSRF token (X-CSRF-Token). The token itself is kept nowhere in the browser.
"use strict";

window.SRSession = (() => {
  let csrf = null;

  async function call(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
    const res = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || `HTTP ${res.status}`);
      err.status = res.status;
      err.field = data.error && data.error.field;
      err.retryAfter = Number(res.headers.get("Retry-After")) || null;
      throw err;
    }
    return data;
  }

  // Who this browser is signed in as: {signed_in, name, role, staff, scopes}.
  async function current() {
    const d = await call("GET", "/api/v1/session");
    csrf = d.csrf || null;
    return d;
  }

  async function signIn(token) {
    const d = await call("POST", "/api/v1/session", { token: String(token || "").trim() });
    csrf = d.csrf;
    return d;
  }

  async function signOut() {
    try { await call("DELETE", "/api/v1/session"); } finally { csrf = null; }
  }

  // A page that kept its token in localStorage (before sign-in sessions) signs in with it once and forgets it.
  async function adopt(storageKey) {
    const old = localStorage.getItem(storageKey);
    if (!old) return null;
    localStorage.removeItem(storageKey);
    try { return await signIn(old); } catch (_) { return null; }
  }

  // The sign-in of a desk page drawn by the server (/catalog, /data): a button after `#who` that signs out, or opens
  // the token form `#login`; either way the page is loaded again, drawn for who is signed in now.
  function mountButton(labels) {
    const who = document.getElementById("who");
    const form = document.getElementById("login");
    const button = document.createElement("button");
    button.type = "button";
    const signedIn = who.dataset.signedIn === "true";
    button.textContent = signedIn ? labels.sign_out : labels.sign_in;
    who.after(button);
    button.addEventListener("click", async () => {
      if (signedIn) {
        await signOut();
        window.location.reload();
      } else {
        form.hidden = !form.hidden;
        if (!form.hidden) form.querySelector("input").focus();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await signIn(form.elements.token.value);
        window.location.reload();
      } catch (err) {
        form.querySelector(".error").textContent = err.message;
      }
    });
  }

  return { current, signIn, signOut, adopt, mountButton, api: call };
})();
