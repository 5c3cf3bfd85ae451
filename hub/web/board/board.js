// The alarm board: log in with the API's accounts, follow the SSE stream,
// act on alerts. No build step; plain browser APIs only.
"use strict";
(() => {
  const API = "/api/v1";
  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const WAITING = new Set(["raised", "notified"]);
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("trygg.token");
  let me = JSON.parse(sessionStorage.getItem("trygg.me") || "null");
  let alerts = new Map();
  let source = null;
  let retry = 500;
  let dutyUnits = null; // units of my shift when I am on duty; null: all my account's units
  let audio = null;
  let beeping = null;

  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) { logout(); throw new Error("logg inn igjen"); }
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (res.status === 409 && data && data.accepted_by) throw new Error(`${data.accepted_by} har allerede tatt denne`);
    if (!res.ok) throw new Error((data && data.detail && String(data.detail)) || `HTTP ${res.status}`);
    return data;
  }

  // --- login ---------------------------------------------------------------
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    unlockAudio();
    const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const res = await fetch(API + "/auth/token", { method: "POST", body: form });
    if (!res.ok) { $("login-error").textContent = "Feil brukernavn eller passord"; return; }
    const data = await res.json();
    token = data.access_token;
    me = { username: $("username").value, role: data.role };
    sessionStorage.setItem("trygg.token", token);
    sessionStorage.setItem("trygg.me", JSON.stringify(me));
    $("password").value = "";
    start();
  });
  $("logout").addEventListener("click", logout);
  $("duty").addEventListener("click", async () => {
    const on = $("duty").dataset.on === "1";
    try { await call("POST", on ? "/shift/logoff" : "/shift/logon", on ? undefined : {}); } catch (e) { alert(e.message); }
    await loadDuty();
  });

  function logout() {
    sessionStorage.removeItem("trygg.token");
    sessionStorage.removeItem("trygg.me");
    token = null;
    if (source) source.close();
    source = null;
    alerts = new Map();
    $("board").hidden = true; $("login").hidden = false; $("logout").hidden = true; $("duty").hidden = true;
    $("who").textContent = "";
    setStatus(false);
    render();
  }

  function start() {
    $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
    $("who").textContent = me ? me.username : "";
    loadDuty();
    connect();
  }

  async function loadDuty() {
    if (!me || !["nattevakt", "staff", "leader"].includes(me.role)) { dutyUnits = null; return; }
    $("duty").hidden = false;
    try {
      const duty = await call("GET", "/roster/on-duty");
      const mine = duty.find((d) => d.staff === me.username);
      dutyUnits = mine ? new Set(mine.units) : null;
      $("duty").dataset.on = mine ? "1" : "0";
      $("duty").textContent = mine ? `Logg av vakt (${mine.units.join(", ")})` : "Logg på vakt";
    } catch (e) { dutyUnits = null; }
    render();
  }

  // --- live stream, reconnecting by itself -------------------------------------
  function connect() {
    if (!token) return;
    if (source) source.close();
    source = new EventSource(`${API}/alerts/stream?access_token=${encodeURIComponent(token)}`);
    source.addEventListener("open", () => { retry = 500; setStatus(true); });
    source.addEventListener("snapshot", (ev) => {
      alerts = new Map(JSON.parse(ev.data).map((a) => [a.id, a]));
      render();
    });
    source.addEventListener("alert", (ev) => {
      const a = JSON.parse(ev.data);
      if (a.is_open) alerts.set(a.id, a); else alerts.delete(a.id);
      render();
    });
    source.addEventListener("expired", () => logout());
    source.onerror = () => {
      setStatus(false);
      source.close();
      // The token may have expired while we were away: a quick check before retrying.
      fetch(API + "/alerts?limit=1", { headers: { Authorization: `Bearer ${token}` } })
        .then((r) => { if (r.status === 401) logout(); })
        .catch(() => {});
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function setStatus(live) {
    $("status").textContent = live ? "tilkoblet" : "frakoblet – kobler til igjen";
    $("status").classList.toggle("live", live);
  }

  // --- rendering -----------------------------------------------------------
  function visible() {
    return [...alerts.values()]
      .filter((a) => a.is_open && (dutyUnits === null || a.unit === null || dutyUnits.has(a.unit)))
      .sort((a, b) => RANK[a.priority] - RANK[b.priority] || Date.parse(a.raised_at) - Date.parse(b.raised_at));
  }

  function age(a) {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(a.raised_at)) / 1000));
    return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} t`;
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString("nb-NO", { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
  }

  const STATE = { raised: "Ny", notified: "Varslet", accepted: "Tatt av", on_site: "På stedet:" };

  function render() {
    const list = $("alerts");
    const shown = visible();
    $("empty").hidden = shown.length > 0;
    const keep = new Set(shown.map((a) => a.id));
    for (const li of [...list.children]) if (!keep.has(li.dataset.id)) li.remove();
    shown.forEach((a, i) => {
      let li = list.querySelector(`li[data-id="${CSS.escape(a.id)}"]`);
      if (!li) { li = $("alert-template").content.firstElementChild.cloneNode(true); li.dataset.id = a.id; wire(li); }
      fill(li, a);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    sound(shown.some((a) => a.priority === "critical" && WAITING.has(a.state)));
  }

  function fill(li, a) {
    const cancelled = Boolean(a.cancelled_by_resident);
    li.className = `alert ${a.priority}${WAITING.has(a.state) ? " waiting" : ""}${cancelled ? " cancelled-by-resident" : ""}`;
    // A mark, not a closing: the alert stays on the board until staff close it.
    const mark = li.querySelector(".resident-cancel");
    mark.hidden = !cancelled;
    const lowered = cancelled && a.priority_before_cancel && a.priority_before_cancel !== a.priority;
    mark.textContent = cancelled
      ? `Avbrutt av beboer ${clock(a.cancelled_by_resident_at)}${lowered ? ` · prioritet senket fra ${a.priority_before_cancel} til ${a.priority}` : ""}`
      : "";
    li.dataset.state = a.state;
    li.querySelector(".priority").textContent = a.priority;
    li.querySelector(".where").textContent = a.apartment || a.unit || a.site;
    li.querySelector(".age").textContent = age(a);
    li.querySelector(".what").textContent = a.message;
    const by = a.accepted_by ? ` ${a.accepted_by}` : "";
    li.querySelector(".state").textContent = `${STATE[a.state] || a.state}${by}${a.unit ? " · " + a.unit : ""}`;
    const waiting = WAITING.has(a.state);
    const mine = a.accepted_by === (me && me.username);
    show(li, "accept", waiting);
    show(li, "reject", waiting);
    show(li, "on-my-way", waiting || (a.state === "accepted" && mine));
    show(li, "on-site", waiting || a.state === "accepted");
    show(li, "resolve", a.state === "accepted" || a.state === "on_site");
    li.querySelector(".outcome").hidden = !(a.state === "accepted" || a.state === "on_site");
  }

  function show(li, action, on) { li.querySelector(`[data-do="${action}"]`).hidden = !on; }

  function wire(li) {
    li.querySelectorAll("button[data-do]").forEach((b) => b.addEventListener("click", async () => {
      unlockAudio();
      const id = li.dataset.id;
      const action = b.dataset.do;
      const body = action === "resolve" ? { outcome: li.querySelector(".outcome").value } : undefined;
      li.querySelector(".error").textContent = "";
      b.disabled = true;
      try {
        const a = await call("POST", `/alerts/${encodeURIComponent(id)}/${action}`, body);
        if (a && action !== "reject") { if (a.is_open) alerts.set(a.id, a); else alerts.delete(a.id); render(); }
      } catch (e) {
        li.querySelector(".error").textContent = e.message;
      } finally { b.disabled = false; }
    }));
  }

  // --- sound: a beep every second while a critical alert waits ------------------
  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }

  function beep() {
    if (!audio) return;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.3;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  }

  function sound(on) {
    document.body.dataset.sound = on ? "on" : "off";
    if (on && !beeping) { beep(); beeping = setInterval(beep, 1000); }
    if (!on && beeping) { clearInterval(beeping); beeping = null; }
  }

  setInterval(() => {
    for (const li of $("alerts").children) {
      const a = alerts.get(li.dataset.id);
      if (a) li.querySelector(".age").textContent = age(a);
    }
  }, 1000);

  if (token) start();
})();
