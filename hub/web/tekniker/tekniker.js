// The tekniker's pages: what needs attention (default, refreshed every 15 s), the
// inventory with filters and search, one device with its history and life-cycle
// buttons, one unit's devices and gateways, and the gateways. Views are chosen by the
// URL's hash (#/, #/inventory?..., #/device/ID, #/unit/SITE/UNIT, #/gateways), so every
// view can be bookmarked and the back button works. Norwegian words where the users
// have them; anything without a word here is shown as the API says it (English).
"use strict";
(() => {
  const S = window.TryggSession;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = window.TRYGG_ATTENTION_REFRESH_MS || 15000;
  const STATE = { in_stock: "På lager", installed: "Montert", in_service: "I drift", in_repair: "Til reparasjon", retired: "Kassert" };
  const ACTION = {
    install: "Monter", activate: "Sett i drift", deactivate: "Ta ut av drift", uninstall: "Demonter",
    send_to_repair: "Send til reparasjon", repaired: "Tilbake fra reparasjon", retire: "Kasser",
    register: "Registrert", import: "Importert", update: "Endret",
  };
  // devices/lifecycle.py TRANSITIONS (tests/unit/test_tekniker_pages_static.py keeps them equal)
  const TRANSITIONS = {
    in_stock: { install: "installed", send_to_repair: "in_repair", retire: "retired" },
    installed: { activate: "in_service", uninstall: "in_stock", send_to_repair: "in_repair" },
    in_service: { deactivate: "installed", send_to_repair: "in_repair" },
    in_repair: { repaired: "in_stock", retire: "retired" },
    retired: {},
  };
  const REASON = { offline: "Frakoblet", battery_low: "Lavt batteri", tamper: "Manipulert", service_overdue: "Service forfalt" };
  const RANK = {
    critical_offline: "Sikkerhetskritisk, frakoblet", gateway_offline: "Gateway frakoblet", tamper: "Manipulert",
    critical_battery_low: "Sikkerhetskritisk, lavt batteri", offline: "Frakoblet", battery_low: "Lavt batteri",
    service_overdue: "Service forfalt",
  };
  const RANK_REASON = {
    critical_offline: "offline", gateway_offline: "offline", offline: "offline", tamper: "tamper",
    critical_battery_low: "battery_low", battery_low: "battery_low", service_overdue: "service_overdue",
  };
  const GW_STATE = { registered: "Registrert", provisioned: "Klargjort", revoked: "Tilbakekalt", unregistered: "Ikke registrert" };
  const word = (table, v) => (v === null || v === undefined ? "–" : table[v] || v);
  const when = (iso) => (iso ? new Date(iso).toLocaleString("nb-NO", { dateStyle: "short", timeStyle: "medium" }) : "–");
  const enc = encodeURIComponent;
  let timer = null;
  let device = null;

  // --- small DOM helpers -------------------------------------------------------------
  function cell(tr, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content === null || content === undefined || content === "" ? "–" : String(content);
    tr.append(td);
    return td;
  }
  function link(text, href) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
  const deviceLink = (id) => link(id, `#/device/${enc(id)}`);
  const unitLink = (site, unit) => (unit ? link(unit, `#/unit/${enc(site)}/${enc(unit)}`) : "–");
  function fill(tbody, rows, make) {
    tbody.replaceChildren(...rows.map((r) => { const tr = document.createElement("tr"); make(tr, r); return tr; }));
  }
  function problem(e) {
    if (e.status === 403) return `Ingen tilgang: ${e.message}`;
    if (e.status === 404) return `Finnes ikke: ${e.message}`;
    if (e.status === 503) return `Ikke tilgjengelig nå: ${e.message}`;
    return e.message;
  }
  function options(id, values) {
    $(id).replaceChildren(...[...new Set(values.filter(Boolean))].sort().map((v) => { const o = document.createElement("option"); o.value = v; return o; }));
  }

  // --- routing -------------------------------------------------------------------------
  function parse() {
    const [path, query] = location.hash.replace(/^#/, "").split("?");
    const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
    return { view: parts[0] || "attention", args: parts.slice(1), query: new URLSearchParams(query || "") };
  }

  async function route() {
    if (!S.me()) return;
    clearInterval(timer); timer = null;
    $("error").textContent = "";
    const { view, args, query } = parse();
    const views = { attention: showAttention, inventory: showInventory, device: showDevice, unit: showUnit, gateways: showGateways };
    const go = views[view] || showAttention;
    const name = views[view] ? view : "attention";
    document.querySelectorAll("section[data-view]").forEach((s) => { s.hidden = s.dataset.view !== name; });
    document.querySelectorAll("#nav a").forEach((a) => {
      if (a.dataset.view === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    try { await go(args, query); } catch (e) { $("error").textContent = problem(e); }
  }

  // --- what needs attention --------------------------------------------------------------
  async function showAttention() {
    await loadAttention();
    timer = setInterval(() => loadAttention().catch((e) => { $("error").textContent = problem(e); }), REFRESH_MS);
  }

  async function loadAttention() {
    const items = await S.call("GET", "/devices/attention");
    $("error").textContent = "";
    $("attention-updated").textContent = `sist ${when(new Date().toISOString())}`;
    $("attention-empty").hidden = items.length > 0;
    $("attention").hidden = items.length === 0;
    fill($("attention").tBodies[0], items, (tr, it) => {
      tr.dataset.key = it.key;
      tr.dataset.rank = it.rank;
      if (it.critical) tr.classList.add("critical");
      const what = it.kind === "gateway" ? document.createTextNode(`Gateway ${it.gateway}`) : deviceLink(it.device);
      const td = cell(tr, what);
      if (it.kind === "device") td.append(` (${it.device_class})`);
      const also = it.reasons.filter((r) => r.reason !== RANK_REASON[it.rank]).map((r) => word(REASON, r.reason));
      cell(tr, `${word(RANK, it.rank)}${also.length ? " (også: " + also.join(", ") + ")" : ""}${it.behind_offline_gateway ? " – bak frakoblet gateway" : ""}${it.critical && it.night ? " · natt nå" : ""}`);
      cell(tr, when(it.since));
      const units = it.kind === "gateway" ? it.units : [it.unit].filter(Boolean);
      const u = cell(tr, "");
      u.replaceChildren(...(units.length ? units.flatMap((x, i) => (i ? [", ", unitLink(it.site, x)] : [unitLink(it.site, x)])) : ["–"]));
      cell(tr, it.gateway);
    });
  }

  // --- inventory ---------------------------------------------------------------------------
  const FILTERS = ["q", "site", "unit", "state", "model", "gateway"];

  $("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const f of FILTERS) { const v = $(`f-${f}`).value.trim(); if (v) q.set(f, v); }
    location.hash = `#/inventory${q.toString() ? "?" + q : ""}`;
  });
  $("f-clear").addEventListener("click", () => { FILTERS.forEach((f) => { $(`f-${f}`).value = ""; }); location.hash = "#/inventory"; });

  async function showInventory(_args, query) {
    for (const f of FILTERS) $(`f-${f}`).value = query.get(f) || "";
    const shown = await S.call("GET", `/devices${query.toString() ? "?" + query : ""}`);
    const all = query.toString() ? await S.call("GET", "/devices") : shown;
    options("sites", all.map((d) => d.site));
    options("units", all.map((d) => unitOf(d)));
    options("models", all.map((d) => d.model || d.type));
    options("gateways-list", all.map((d) => d.gateway));
    $("inventory-count").textContent = `${shown.length} av ${all.length}`;
    fill($("devices").tBodies[0], shown, (tr, d) => {
      tr.dataset.id = d.id;
      cell(tr, deviceLink(d.id));
      cell(tr, d.model || d.type);
      cell(tr, d.serial);
      cell(tr, word(STATE, d.state));
      cell(tr, unitLink(d.site, unitOf(d)));
      cell(tr, where(d).room);
      cell(tr, d.gateway);
      cell(tr, when(d.last_seen));
    });
  }

  // The registry's location, or the older placement shape.
  const where = (d) => d.location || d.placement || {};
  const unitOf = (d) => where(d).unit || null;

  // --- one device --------------------------------------------------------------------------
  async function showDevice(args) {
    const id = args[0];
    $("device-id").textContent = id;
    $("action-message").textContent = "";
    const [d, history] = await Promise.all([
      S.call("GET", `/devices/${enc(id)}`),
      S.call("GET", `/devices/${enc(id)}/history`),
    ]);
    // What supervision says about it; the page still works when supervision does not run.
    const attention = await S.call("GET", `/devices/attention?site=${enc(d.site)}`).catch(() => null);
    device = d;
    renderDevice(d, history, attention ? attention.find((a) => a.key === d.id) : null);
  }

  function renderDevice(d, history, concern) {
    const w = where(d);
    const watch = concern === undefined ? "OK" : concern === null ? "–"
      : concern.reasons.map((r) => `${word(REASON, r.reason)} siden ${when(r.since)}`).join(", ");
    const facts = [
      ["Tilsyn", watch],
      ["Modell", d.model || d.type], ["Serienr.", d.serial], ["Fastvare", d.firmware],
      ["Tilstand", word(STATE, d.state)], ["Sted", d.site], ["Enhet", unitLink(d.site, w.unit)],
      ["Leilighet", w.apartment], ["Rom", w.room], ["Gateway", d.gateway],
      ["Montert", when(d.installed_at)], ["Sist service", when(d.last_service_at)],
      ["Neste service", when(d.service_due_at)], ["Sist hørt", when(d.last_seen)],
      ["Merker", (d.tags || (d.placement && d.placement.tags) || []).join(", ")], ["Notat", d.notes],
    ];
    $("device-facts").replaceChildren(...facts.flatMap(([k, v]) => {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd");
      if (v instanceof Node) dd.append(v); else dd.textContent = v === null || v === undefined || v === "" ? "–" : v;
      return [dt, dd];
    }));
    const legal = Object.keys(TRANSITIONS[d.state] || {});
    $("device-actions").replaceChildren(...legal.map((a) => {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.do = a; b.textContent = word(ACTION, a);
      if (a === "retire") b.classList.add("danger");
      b.addEventListener("click", () => act(a, b));
      return b;
    }));
    if (!legal.length) $("device-actions").textContent = "Ingen handlinger: utstyret er kassert.";
    $("install-box").hidden = !legal.includes("install");
    $("resident-box").hidden = !(legal.includes("install") || legal.includes("activate"));
    $("install-gateway").value = d.gateway || "";
    $("history-empty").hidden = history.length > 0;
    $("history").replaceChildren(...history.map((h) => {
      const li = document.createElement("li");
      const states = h.from_state || h.to_state ? ` (${word(STATE, h.from_state)} → ${word(STATE, h.to_state)})` : "";
      const loc = h.location && h.location.unit ? ` · ${h.location.unit}${h.location.room ? ", " + h.location.room : ""}` : "";
      li.textContent = `${when(h.at)} ${h.actor}: ${word(ACTION, h.action)}${states}${loc}${h.note ? " – " + h.note : ""}`;
      return li;
    }));
  }

  async function act(action, button) {
    $("action-message").textContent = "";
    const body = {};
    const note = $("action-note").value.trim();
    if (note) body.note = note;
    if (action === "install") {
      const unit = $("install-unit").value.trim();
      if (!unit) { $("action-message").textContent = "Oppgi enheten utstyret monteres i"; return; }
      body.location = { unit, apartment: $("install-apartment").value.trim() || null, room: $("install-room").value.trim() || null };
      body.gateway = $("install-gateway").value.trim() || null;
    }
    const resident = $("action-resident").value.trim();
    if (resident && (action === "install" || action === "activate")) body.resident_id = resident;
    button.disabled = true;
    try {
      await S.call("POST", `/devices/${enc(device.id)}/actions/${action}`, body);
      $("action-note").value = "";
      await showDevice([device.id]);
    } catch (e) {
      if (e.status === 409) {
        // The device has moved on (a colleague acted on it): show it as it is now.
        await showDevice([device.id]).catch(() => {});
        $("action-message").textContent = `Ikke tillatt: ${e.message}`;
      } else {
        $("action-message").textContent = problem(e);
      }
    } finally { button.disabled = false; }
  }

  // --- one unit ----------------------------------------------------------------------------
  async function showUnit(args) {
    const [site, unit] = args;
    $("unit-name").textContent = `${unit} (${site})`;
    const q = `site=${enc(site)}&unit=${enc(unit)}`;
    const [devices, gateways, attention] = await Promise.all([
      S.call("GET", `/devices?${q}`),
      S.call("GET", `/gateways?site=${enc(site)}`),
      S.call("GET", `/devices/attention?${q}`),
    ]);
    const concern = new Map(attention.map((a) => [a.key, a]));
    fill($("unit-devices").tBodies[0], devices, (tr, d) => {
      tr.dataset.id = d.id;
      cell(tr, deviceLink(d.id));
      cell(tr, d.model || d.type);
      cell(tr, word(STATE, d.state));
      cell(tr, where(d).apartment);
      cell(tr, where(d).room);
      cell(tr, d.gateway);
      cell(tr, when(d.last_seen));
      const a = concern.get(d.id);
      cell(tr, a ? a.reasons.map((r) => word(REASON, r.reason)).join(", ") : "OK");
    });
    const mine = new Set(devices.map((d) => d.gateway));
    const here = gateways.filter((g) => mine.has(g.id));
    fill($("unit-gateways").tBodies[0], here, (tr, g) => {
      tr.dataset.id = g.id;
      cell(tr, g.id);
      const a = concern.get(`gw:${g.site}/${g.id}`);
      cell(tr, a ? a.reasons.map((r) => word(REASON, r.reason)).join(", ") : g.online === false ? "Frakoblet" : g.online ? "Tilkoblet" : "–");
      cell(tr, g.software_version);
      cell(tr, when(g.last_seen));
      cell(tr, g.devices);
    });
  }

  // --- gateways ----------------------------------------------------------------------------
  async function showGateways() {
    const gateways = await S.call("GET", "/gateways");
    fill($("gateways").tBodies[0], gateways, (tr, g) => {
      tr.dataset.id = `${g.site}/${g.id}`;
      cell(tr, g.site);
      cell(tr, g.id);
      cell(tr, word(GW_STATE, g.state));
      cell(tr, g.online === false ? "Frakoblet" : g.online ? "Tilkoblet" : "–");
      cell(tr, g.software_version);
      cell(tr, when(g.last_seen));
      cell(tr, g.credentials_provisioned ? "Ja" : "Nei");
      cell(tr, g.devices);
    });
  }

  window.addEventListener("hashchange", route);
  S.start(
    () => { $("app").hidden = false; $("nav").hidden = false; route(); },
    () => { clearInterval(timer); timer = null; $("app").hidden = true; $("nav").hidden = true; },
  );
})();
