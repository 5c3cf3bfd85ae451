// Log in with the API's accounts and call the API: shared by the pages that load it
// (/common/session.js). The page supplies the elements: a form #login with #username,
// #password and #login-error, a #logout button and a #who span. The token lives in
// sessionStorage under the same keys as the board's and the consent page's, so one
// login serves every page in the tab. No build step; plain browser APIs only.
"use strict";
window.TryggSession = (() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("trygg.token");
  let me = JSON.parse(sessionStorage.getItem("trygg.me") || "null");
  let onIn = () => {};
  let onOut = () => {};

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function detail(data, status) {
    if (data && data.detail !== undefined) {
      return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    }
    return `HTTP ${status}`;
  }

  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) { logout(); throw new ApiError(401, "logg inn igjen"); }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!res.ok) throw new ApiError(res.status, detail(data, res.status));
    return data;
  }

  async function login(ev) {
    ev.preventDefault();
    const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const res = await fetch(API + "/auth/token", { method: "POST", body: form });
    if (!res.ok) {
      $("login-error").textContent = res.status === 429 ? "For mange forsøk; vent litt" : "Feil brukernavn eller passord";
      return;
    }
    const data = await res.json();
    token = data.access_token;
    me = { username: $("username").value, role: data.role };
    sessionStorage.setItem("trygg.token", token);
    sessionStorage.setItem("trygg.me", JSON.stringify(me));
    $("password").value = "";
    $("login-error").textContent = "";
    signedIn();
  }

  function signedIn() {
    $("login").hidden = true; $("logout").hidden = false;
    $("who").textContent = me ? `${me.username} (${me.role})` : "";
    onIn(me);
  }

  function logout() {
    sessionStorage.removeItem("trygg.token");
    sessionStorage.removeItem("trygg.me");
    token = null; me = null;
    $("login").hidden = false; $("logout").hidden = true; $("who").textContent = "";
    onOut();
  }

  // start(onIn, onOut): wires the form; calls onIn(me) now when a token is kept.
  function start(whenIn, whenOut) {
    onIn = whenIn; onOut = whenOut || (() => {});
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    if (token) signedIn(); else logout();
  }

  return { start, call, logout, ApiError, me: () => me, token: () => token };
})();
