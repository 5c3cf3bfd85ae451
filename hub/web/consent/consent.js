// Legal bases of one resident: record, review, renew, approve (kapittel 9), withdraw,
// with who did what; and the resident's own plain-language page. No build step.
"use strict";
(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const MEASURE_KINDS = {
    exit_door: "door.opened, door.closed",
    gps: "gps.position, geofence.exit, geofence.enter",
    fall: "fall.detected, floor.person",
    night_supervision: "bed.exit, bed.enter, room.motion, room.no_motion",
    stove: "stove.on, stove.off, stove.cutoff",
  };
  const BASIS_TEXT = {
    consent: "Samtykke",
    decision_4_6a: "Vedtak pbrl. § 4-6 a",
    decision_4a: "Vedtak pbrl. kap. 4A",
    decision_hol_9: "Vedtak hol. kap. 9",
  };
  const ACTION_TEXT = { record: "registrerte", review: "evaluerte", renew: "forlenget", approve: "registrerte godkjenning", withdraw: "trakk tilbake" };
  const S = window.TryggSession; // /common/session.js: login, token, API calls
  const call = S.call;
  let me = null;
  let resident = null;

  const list = (s) => (s || "").split(",").map((x) => x.trim()).filter(Boolean);
  const day = (v) => (v ? new Date(v + "T00:00").toISOString() : null);
  const show = (iso) => (iso ? new Date(iso).toLocaleString("nb-NO", { dateStyle: "medium", timeStyle: "short" }) : "–");

  // --- login (shared: /common/session.js) -------------------------------------
  function loggedOut() {
    me = null; resident = null;
    $("app").hidden = true; $("resident").hidden = true;
  }

  function start(who) {
    me = who;
    $("app").hidden = false;
    const writer = me && ["admin", "leader"].includes(me.role);
    $("record-box").hidden = !writer;
    const fromHash = decodeURIComponent(location.hash.slice(1));
    if (fromHash) { $("resident-id").value = fromHash; openResident(fromHash); }
  }

  // --- one resident ----------------------------------------------------------
  $("pick").addEventListener("submit", (ev) => { ev.preventDefault(); openResident($("resident-id").value.trim()); });

  async function openResident(id) {
    $("error").textContent = "";
    $("plain").hidden = true;
    try {
      const bases = await call("GET", `/residents/${encodeURIComponent(id)}/bases`);
      resident = id;
      history.replaceState(null, "", `#${encodeURIComponent(id)}`);
      $("resident-label").textContent = id;
      $("resident").hidden = false;
      await render(bases);
    } catch (e) {
      $("resident").hidden = true;
      $("error").textContent = e.message === "no such resident" ? "Fant ingen beboer med den id-en som du har tilgang til" : e.message;
    }
  }

  async function reload() { await render(await call("GET", `/residents/${encodeURIComponent(resident)}/bases`)); }

  function state(b) {
    const now = new Date();
    if (b.withdrawn_at) return ["Trukket tilbake " + show(b.withdrawn_at), "off"];
    if (new Date(b.valid_from) > now) return ["Ikke startet", "waiting"];
    if (b.valid_to && new Date(b.valid_to) <= now) return ["Utløpt", "off"];
    if (b.basis === "decision_hol_9" && !b.approved_at) return ["Venter på Statsforvalterens godkjenning", "waiting"];
    return ["I kraft", "on"];
  }

  async function render(bases) {
    const ul = $("bases");
    ul.replaceChildren();
    $("no-bases").hidden = bases.length > 0;
    const writer = me && ["admin", "leader"].includes(me.role);
    for (const b of bases) {
      const li = $("basis-template").content.firstElementChild.cloneNode(true);
      const [text, cls] = state(b);
      li.dataset.id = b.id;
      li.dataset.measure = b.measure;
      li.classList.add(cls);
      li.querySelector(".measure").textContent = b.measure;
      li.querySelector(".kind").textContent = BASIS_TEXT[b.basis] || b.basis;
      li.querySelector(".state").textContent = text;
      const facts = [
        ["Hendelser", b.kinds.join(", ")],
        ["Formål", b.purpose || "–"],
        ["Referanse", b.reference],
        ["Besluttet av", b.decided_by],
        ["Gyldig", `${show(b.valid_from)} – ${b.valid_to ? show(b.valid_to) : "inntil videre"}`],
        ["Evalueres", show(b.review_at)],
        ["Tidsrom", b.windows.length ? b.windows.join(", ") : "hele døgnet"],
        ["Godkjent", b.basis === "decision_hol_9" ? show(b.approved_at) : "ikke nødvendig"],
        ["Kan se", b.visible_to.join(", ") || "–"],
        ["Lagres", b.store_events ? `${b.retention_days} dager` : "lagres ikke"],
        ["Pårørende hørt", b.relatives_consulted.join(", ") || "–"],
      ];
      const dl = li.querySelector(".facts");
      for (const [k, v] of facts) {
        const dt = document.createElement("dt"); dt.textContent = k;
        const dd = document.createElement("dd"); dd.textContent = v;
        dl.append(dt, dd);
      }
      const actions = li.querySelector(".actions");
      actions.hidden = !writer || Boolean(b.withdrawn_at);
      li.querySelector(".approve-box").hidden = b.basis !== "decision_hol_9" || Boolean(b.approved_at);
      actions.addEventListener("click", (ev) => act(ev, b, li));
      ul.append(li);
      loadHistory(b.id, li.querySelector(".history"));
    }
  }

  async function loadHistory(id, ol) {
    try {
      const full = await call("GET", `/bases/${encodeURIComponent(id)}`);
      ol.replaceChildren(...full.history.map((h) => {
        const item = document.createElement("li");
        item.textContent = `${show(h.at)}: ${h.actor} ${ACTION_TEXT[h.action] || h.action}${h.note ? ` – ${h.note}` : ""}`;
        return item;
      }));
    } catch (e) { ol.textContent = e.message; }
  }

  async function act(ev, b, li) {
    const what = ev.target.dataset && ev.target.dataset.do;
    if (!what) return;
    const err = li.querySelector(".error");
    err.textContent = "";
    const value = (cls) => li.querySelector(cls).value.trim();
    let body;
    if (what === "review") {
      if (!value(".review-date")) { err.textContent = "Velg ny evalueringsdato"; return; }
      body = { review_at: day(value(".review-date")) };
    } else if (what === "renew") {
      if (!value(".renew-date")) { err.textContent = "Velg ny sluttdato"; return; }
      body = { valid_to: day(value(".renew-date")) };
    } else if (what === "approve") {
      if (!value(".approve-date") || !value(".approve-ref")) { err.textContent = "Oppgi dato og Statsforvalterens referanse"; return; }
      body = { approved_at: day(value(".approve-date")), note: value(".approve-ref") };
    } else if (what === "withdraw") {
      if (value(".withdraw-reason").length < 3) { err.textContent = "Oppgi årsaken til tilbaketrekkingen"; return; }
      body = { reason: value(".withdraw-reason") };
    }
    try {
      await call("POST", `/bases/${encodeURIComponent(b.id)}/${what}`, body);
      await reload();
    } catch (e) { err.textContent = e.message; }
  }

  // --- record ----------------------------------------------------------------
  const fillKinds = () => { $("kinds").value = MEASURE_KINDS[$("measure").value] || ""; };
  $("measure").addEventListener("change", fillKinds);
  fillKinds();
  $("valid-from").value = new Date().toISOString().slice(0, 10);

  $("record").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("error").textContent = "";
    const body = {
      resident_id: resident,
      measure: $("measure").value,
      kinds: list($("kinds").value),
      basis: $("basis").value,
      reference: $("reference").value.trim(),
      valid_from: day($("valid-from").value),
      valid_to: day($("valid-to").value),
      review_at: day($("review-at").value),
      windows: list($("windows").value),
      purpose: $("purpose").value.trim(),
      relatives_consulted: list($("relatives").value),
      visible_to: list($("visible-to").value),
      retention_days: Number($("retention-days").value || 30),
      store_events: $("store-events").checked,
    };
    try {
      await call("POST", "/bases", body);
      $("reference").value = ""; $("purpose").value = "";
      $("record-box").open = false;
      await reload();
    } catch (e) { $("error").textContent = e.message; }
  });

  // --- the resident's own page -----------------------------------------------
  $("show-plain").addEventListener("click", async () => {
    $("error").textContent = "";
    try {
      const res = await fetch(`${API}/residents/${encodeURIComponent(resident)}/monitoring?format=html`, { headers: { Authorization: `Bearer ${S.token()}` } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      $("plain").srcdoc = await res.text();
      $("plain").hidden = false;
    } catch (e) { $("error").textContent = e.message; }
  });

  S.start(start, loggedOut);
})();
