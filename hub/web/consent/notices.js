// Notices before a legal basis expires or is due for review, shown actively to the
// responsible role (leader, admin) on every page that includes this script: the alarm
// board and the consent page. It uses the token the page's own login stored; polls the
// notices every minute; a notice stays until someone acknowledges it.
"use strict";
(() => {
  const API = "/api/v1";
  const ROLES = new Set(["leader", "admin"]);
  const POLL_MS = window.TRYGG_NOTICE_POLL_MS || 60000;
  const KIND_TEXT = { expiry: "utløper", review: "skal evalueres" };
  let box = null;
  let lastToken = null;
  let lastFetch = 0;

  function session() {
    const token = sessionStorage.getItem("trygg.token");
    const me = JSON.parse(sessionStorage.getItem("trygg.me") || "null");
    return token && me && ROLES.has(me.role) ? token : null;
  }

  function ensureBox() {
    if (box) return box;
    box = document.createElement("aside");
    box.id = "consent-notices";
    box.setAttribute("role", "alert");
    box.style.cssText = "background:#fff3cd;color:#3b2f00;padding:.5em 1em;border-bottom:2px solid #f9a825;font:16px/1.4 system-ui,sans-serif";
    document.body.prepend(box);
    return box;
  }

  function days(iso) {
    return Math.ceil((new Date(iso) - new Date()) / 86400000);
  }

  async function acknowledge(token, n) {
    const res = await fetch(`${API}/consent/notices/acknowledge`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ basis_id: n.basis_id, kind: n.kind, due_at: n.due_at }),
    });
    if (res.ok) await refresh(true);
  }

  function render(token, notices) {
    const open = notices.filter((n) => !n.acknowledged_by);
    if (!open.length) { if (box) box.hidden = true; return; }
    const el = ensureBox();
    el.hidden = false;
    el.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = "Grunnlag som trenger oppfølging";
    el.append(title);
    const ul = document.createElement("ul");
    ul.style.cssText = "margin:.3em 0;padding-left:1.2em";
    for (const n of open) {
      const li = document.createElement("li");
      li.className = "consent-notice";
      li.dataset.basis = n.basis_id;
      const d = days(n.due_at);
      const when = new Date(n.due_at).toLocaleDateString("nb-NO");
      const text = document.createElement("span");
      text.textContent = `${n.measure || "tiltak"} for beboer ${n.resident_id || "?"} ${KIND_TEXT[n.kind] || n.kind} ${when}` +
        (d >= 0 ? ` (om ${d} dager) ` : " (passert) ");
      const link = document.createElement("a");
      link.href = `/consent/#${encodeURIComponent(n.resident_id || "")}`;
      link.textContent = "Åpne";
      const ack = document.createElement("button");
      ack.type = "button";
      ack.className = "ack";
      ack.textContent = "Kvitter";
      ack.style.marginLeft = ".6em";
      ack.addEventListener("click", () => acknowledge(token, n));
      li.append(text, link, ack);
      ul.append(li);
    }
    el.append(ul);
  }

  async function refresh(force) {
    const token = session();
    if (!token) { if (box) box.hidden = true; lastToken = null; return; }
    const now = Date.now();
    if (!force && token === lastToken && now - lastFetch < POLL_MS) return;
    lastToken = token; lastFetch = now;
    try {
      const res = await fetch(`${API}/consent/notices`, { headers: { Authorization: `Bearer ${token}` } });
      if (res.ok) render(token, await res.json());
    } catch (e) { /* the next poll tries again */ }
  }

  // Check for a login (token) often and cheaply; fetch at most every POLL_MS.
  setInterval(() => refresh(false), 1000);
  refresh(false);
})();
