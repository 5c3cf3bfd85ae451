// A resident's (or guardian's) own page: my alarms of the last 30 days and what happened,
// and what is monitored about me. Every word is in STRINGS below (nb and en); the API
// gives codes and times. No build step; plain browser APIs only.
"use strict";
(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  // --- every string on the page, in both languages ------------------------------------
  const STRINGS = {
    nb: {
      title: "Trygg – min side", switchTo: "English", switchLabel: "Switch to English",
      logout: "Logg ut", loginHeading: "Logg inn", username: "Brukernavn", password: "Passord",
      loginButton: "Logg inn", badLogin: "Feil brukernavn eller passord.",
      unbound: "Kontoen er ikke knyttet til en beboer. Snakk med lederen på enheten.",
      throttled: "For mange forsøk. Vent litt og prøv igjen.",
      pickerHeading: "Hvem vil du se?", myPage: "Til min side",
      alarmsHeading: "Mine alarmer de siste 30 dagene",
      noAlarms: "Ingen alarmer de siste 30 dagene.",
      monitoringHeading: "Hva overvåkes hos meg", noMeasures: "Ingenting overvåkes hos deg.",
      rights: "Du kan når som helst trekke samtykket tilbake, be om å få se hvem som har sett opplysningene dine, eller klage. Snakk med lederen på enheten.",
      pageOf: (name) => `Siden til ${name}`,
      denied: "Du har ikke tilgang til denne siden. Du kan bare se din egen side.",
      notFound: "Fant ikke siden.", noResident: "Skriv beboerens id etter # i adressen.",
      failed: "Noe gikk galt. Prøv igjen om litt.", loginAgain: "Logg inn igjen.",
      raised: "Alarmen gikk", received: "Trygg tok imot alarmen",
      accepted: (who) => `${who || "Personalet"} tok alarmen`,
      onSite: (who) => `${who || "Personalet"} kom til deg`,
      resolved: "Avsluttet", cancelled: "Avbrutt før noen ble sendt", cancelledByYou: "Du avbrøt",
      ongoing: "Pågår", waiting: "Venter på svar fra personalet", done: "Ferdig",
      at: (time) => `kl. ${time}`,
      what: "Hva", when: "Når", why: "Hvorfor", basis: "Grunnlag", reference: "Referanse",
      validUntil: "Gjelder til", untilChanged: "til det blir endret", whoCanSee: "Hvem kan se det",
      keptFor: "Hvor lenge lagres det", days: (n) => `${n} dager`, allDay: "hele døgnet",
      notGiven: "ikke oppgitt", nobody: "ingen", status: "Status",
    },
    en: {
      title: "Trygg – my page", switchTo: "Norsk", switchLabel: "Bytt til norsk",
      logout: "Log out", loginHeading: "Log in", username: "Username", password: "Password",
      loginButton: "Log in", badLogin: "Wrong username or password.",
      unbound: "This account is not linked to a resident. Please talk to the unit's manager.",
      throttled: "Too many attempts. Please wait a little and try again.",
      pickerHeading: "Whose page do you want to see?", myPage: "To my page",
      alarmsHeading: "My alarms in the last 30 days",
      noAlarms: "No alarms in the last 30 days.",
      monitoringHeading: "What is monitored about me", noMeasures: "Nothing is monitored about you.",
      rights: "You can withdraw your consent at any time, ask to see who has looked at your information, or complain. Please talk to the unit's manager.",
      pageOf: (name) => `${name}'s page`,
      denied: "You do not have access to this page. You can only see your own page.",
      notFound: "The page was not found.", noResident: "Put the resident's id after # in the address.",
      failed: "Something went wrong. Please try again shortly.", loginAgain: "Please log in again.",
      raised: "The alarm went off", received: "Trygg received the alarm",
      accepted: (who) => `${who || "The staff"} took the alarm`,
      onSite: (who) => `${who || "The staff"} came to you`,
      resolved: "Closed", cancelled: "Cancelled before anyone was sent", cancelledByYou: "You cancelled",
      ongoing: "Ongoing", waiting: "Waiting for the staff to answer", done: "Finished",
      at: (time) => `at ${time}`,
      what: "What", when: "When", why: "Why", basis: "Basis", reference: "Reference",
      validUntil: "Valid until", untilChanged: "until it is changed", whoCanSee: "Who can see it",
      keptFor: "How long it is kept", days: (n) => `${n} days`, allDay: "all day and night",
      notGiven: "not given", nobody: "nobody", status: "Status",
    },
  };
  const CODES = {
    nb: {
      alarm: {
        "alarm.button": "Alarmknappen", "fall.detected": "Fall", "floor.person": "Noen på gulvet",
        "door.opened": "Døren ble åpnet", "bed.exit": "Du gikk ut av sengen",
        "room.no_motion": "Stille lenge i rommet", "stove.on": "Komfyren", "stove.cutoff": "Komfyrvakten slo av",
        "smoke.detected": "Røyk", "water.leak": "Vannlekkasje", "geofence.exit": "Du gikk ut av det avtalte området",
        other: "Alarm",
      },
      outcome: {
        assisted: "Du fikk hjelp", false_alarm: "Falsk alarm – ingen trengte hjelp",
        device_fault: "Feil på utstyret", no_action_needed: "Ingen hjelp var nødvendig", other: "Annet",
      },
      kind: {
        "door.opened": "at døren åpnes", "door.closed": "at døren lukkes", "bed.exit": "at du går ut av sengen",
        "bed.enter": "at du legger deg", "room.motion": "bevegelse i rommet",
        "room.no_motion": "at det er stille i rommet lenge", "fall.detected": "fall",
        "floor.person": "at noen ligger på gulvet", "gps.position": "hvor du er (GPS)",
        "geofence.exit": "at du går ut av et avtalt område", "geofence.enter": "at du kommer tilbake til et avtalt område",
        "stove.on": "at komfyren slås på", "stove.off": "at komfyren slås av", "stove.cutoff": "at komfyrvakten slår av komfyren",
        "alarm.button": "at du trykker på alarmknappen",
      },
      measure: {
        exit_door: "Dørsensor på utgangsdøren", gps: "GPS / lokalisering", fall: "Fallsensor",
        night_supervision: "Nattlig tilsyn", stove: "Komfyrvakt",
      },
      basis: {
        consent: "Du har selv samtykket.",
        decision_4_6a: "Vedtak etter pasient- og brukerrettighetsloven § 4-6 a: du kan ikke samtykke selv, og du motsetter deg ikke tiltaket.",
        decision_4a: "Vedtak etter pasient- og brukerrettighetsloven kapittel 4A: helsehjelp du motsetter deg.",
        decision_hol_9: "Vedtak etter helse- og omsorgstjenesteloven kapittel 9, godkjent av Statsforvalteren.",
      },
      state: {
        allowed: "I bruk", outside_window: "I bruk, bare i tidsrommet under", not_yet_valid: "Ikke startet ennå",
        expired: "Utløpt, ikke i bruk", withdrawn: "Trukket tilbake, ikke i bruk",
        not_approved: "Venter på Statsforvalterens godkjenning, ikke i bruk",
      },
      role: {
        nattevakt: "nattevakten", staff: "personalet", leader: "lederen", admin: "systemansvarlig",
        auditor: "revisor", tekniker: "teknisk hjelpemiddelservice",
      },
    },
    en: {
      alarm: {
        "alarm.button": "The alarm button", "fall.detected": "A fall", "floor.person": "Someone on the floor",
        "door.opened": "The door opened", "bed.exit": "You got out of bed",
        "room.no_motion": "No movement in the room for a long time", "stove.on": "The stove", "stove.cutoff": "The stove guard switched off",
        "smoke.detected": "Smoke", "water.leak": "Water leak", "geofence.exit": "You left the agreed area",
        other: "Alarm",
      },
      outcome: {
        assisted: "You were helped", false_alarm: "False alarm – no help was needed",
        device_fault: "A fault in the equipment", no_action_needed: "No help was needed", other: "Other",
      },
      kind: {
        "door.opened": "the door opening", "door.closed": "the door closing", "bed.exit": "you getting out of bed",
        "bed.enter": "you going to bed", "room.motion": "movement in the room",
        "room.no_motion": "no movement in the room for a long time", "fall.detected": "falls",
        "floor.person": "someone lying on the floor", "gps.position": "where you are (GPS)",
        "geofence.exit": "you leaving an agreed area", "geofence.enter": "you coming back to an agreed area",
        "stove.on": "the stove being switched on", "stove.off": "the stove being switched off",
        "stove.cutoff": "the stove guard switching the stove off", "alarm.button": "you pressing the alarm button",
      },
      measure: {
        exit_door: "Door sensor on the front door", gps: "GPS / location", fall: "Fall sensor",
        night_supervision: "Night-time supervision", stove: "Stove guard",
      },
      basis: {
        consent: "You gave your own consent.",
        decision_4_6a: "A decision under the Patients' and Users' Rights Act § 4-6 a: you cannot consent yourself, and you do not object to the measure.",
        decision_4a: "A decision under the Patients' and Users' Rights Act chapter 4A: health care you object to.",
        decision_hol_9: "A decision under the Health and Care Services Act chapter 9, approved by the County Governor (Statsforvalteren).",
      },
      state: {
        allowed: "In use", outside_window: "In use, only during the hours below", not_yet_valid: "Not started yet",
        expired: "Expired, not in use", withdrawn: "Withdrawn, not in use",
        not_approved: "Waiting for the County Governor's approval, not in use",
      },
      role: {
        nattevakt: "the night staff", staff: "the staff", leader: "the manager", admin: "the system administrator",
        auditor: "the auditor", tekniker: "the technical aid service",
      },
    },
  };
  const LOCALE = { nb: "nb-NO", en: "en-GB" };

  let lang = localStorage.getItem("trygg.lang") === "en" ? "en" : "nb";
  let token = sessionStorage.getItem("trygg.token");
  let me = JSON.parse(sessionStorage.getItem("trygg.me") || "null");
  let shown = null; // the last overview, so switching language does not read (and audit) again
  let pages = {}; // a guardian's residents: id -> overview, read once per visit (each audited)

  const t = (key, ...args) => {
    const v = STRINGS[lang][key];
    return typeof v === "function" ? v(...args) : v;
  };
  const code = (table, key, fallback) => CODES[lang][table][key] || fallback || key;

  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    document.title = t("title");
    const other = lang === "nb" ? "en" : "nb";
    $("lang").textContent = t("switchTo");
    $("lang").lang = other;
    $("lang").setAttribute("aria-label", t("switchLabel"));
    renderPicker();
    if (shown) render(shown);
    else if ($("message").dataset.key) say($("message").dataset.key);
  }

  $("lang").addEventListener("click", () => {
    lang = lang === "nb" ? "en" : "nb";
    localStorage.setItem("trygg.lang", lang);
    applyLanguage();
  });

  // --- login and the session token (as the board and the consent pages keep it) ---------
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const res = await fetch(API + "/auth/token", { method: "POST", body: form });
    if (!res.ok) {
      $("login-error").textContent = t(res.status === 403 ? "unbound" : res.status === 429 ? "throttled" : "badLogin");
      return;
    }
    const data = await res.json();
    token = data.access_token;
    me = { username: $("username").value, role: data.role, residents: data.residents || [] };
    sessionStorage.setItem("trygg.token", token);
    sessionStorage.setItem("trygg.me", JSON.stringify(me));
    $("password").value = "";
    $("login-error").textContent = "";
    start();
  });
  $("logout").addEventListener("click", logout);
  $("home").addEventListener("click", () => { location.hash = encodeURIComponent(me.residents[0]); });
  window.addEventListener("hashchange", () => { if (token) open(wanted()); });

  function logout() {
    sessionStorage.removeItem("trygg.token");
    sessionStorage.removeItem("trygg.me");
    token = null; me = null; shown = null; pages = {};
    $("app").hidden = true; $("login").hidden = false; $("logout").hidden = true;
    $("page").hidden = true; $("message").hidden = true; $("home").hidden = true;
  }

  function wanted() {
    const fromHash = decodeURIComponent(location.hash.slice(1));
    return fromHash || (me && me.residents && me.residents[0]) || null;
  }

  async function start() {
    $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
    const mine = (me && me.residents) || [];
    if (mine.length > 1) {
      // A guardian's picker names each resident: read each page once, then switch freely.
      for (const id of mine) {
        try { const data = await overview(id); if (data) pages[id] = data; } catch (e) { /* shown on open */ }
      }
    }
    await open(wanted());
  }

  async function overview(id) {
    const res = await fetch(`${API}/residents/${encodeURIComponent(id)}/overview`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (res.status === 401) { logout(); $("login-error").textContent = t("loginAgain"); return null; }
    if (res.status === 403) throw new Error("denied");
    if (res.status === 404) throw new Error("notFound");
    if (!res.ok) throw new Error("failed");
    return res.json();
  }

  async function open(id) {
    shown = null;
    $("page").hidden = true;
    if (!id) { say("noResident"); return; }
    try {
      const data = pages[id] || await overview(id);
      if (!data) return;
      $("message").hidden = true; $("home").hidden = true; delete $("message").dataset.key;
      render(data);
    } catch (e) {
      say(["denied", "notFound"].includes(e.message) ? e.message : "failed");
    }
    renderPicker();
  }

  function say(key) {
    $("message").dataset.key = key;
    $("message").textContent = t(key);
    $("message").hidden = false;
    $("home").hidden = !(me && me.residents && me.residents.length);
  }

  function renderPicker() {
    const mine = (me && me.residents) || [];
    $("picker").hidden = mine.length < 2;
    const list = $("picker-list");
    list.replaceChildren();
    for (const id of mine) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = pages[id] ? pages[id].name : id;
      b.setAttribute("aria-current", shown && shown.resident_id === id ? "true" : "false");
      b.addEventListener("click", () => { location.hash = encodeURIComponent(id); });
      li.append(b);
      list.append(li);
    }
  }

  // --- the page ----------------------------------------------------------------------
  function time(iso, tz) {
    return new Date(iso).toLocaleTimeString(LOCALE[lang], { hour: "2-digit", minute: "2-digit", timeZone: tz });
  }
  function date(iso, tz) {
    return new Date(iso).toLocaleDateString(LOCALE[lang], { weekday: "long", day: "numeric", month: "long", timeZone: tz });
  }
  function day(isoDate) {
    return new Date(isoDate + "T12:00:00Z").toLocaleDateString(LOCALE[lang], { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function render(data) {
    shown = data;
    $("name").textContent = t("pageOf", data.name);
    const alarms = $("alarms");
    alarms.replaceChildren(...data.alarms.map((a) => alarmCard(a, data.timezone)));
    $("no-alarms").hidden = data.alarms.length > 0;
    const measures = $("measures");
    measures.replaceChildren(...data.monitoring.map(measureCard));
    $("no-measures").hidden = data.monitoring.length > 0;
    $("page").hidden = false;
  }

  function status(a) {
    if (a.state === "resolved") return `${t("done")}: ${code("outcome", a.outcome, t("resolved"))}`;
    if (a.state === "cancelled") return a.cancelled_by_resident ? t("cancelledByYou") : t("cancelled");
    if (a.cancelled_by_resident) return t("cancelledByYou");
    if (a.state === "raised" || a.state === "notified") return `${t("ongoing")}: ${t("waiting")}`;
    return t("ongoing");
  }

  function alarmCard(a, tz) {
    const li = el("li", undefined, "card alarm");
    li.dataset.id = a.id;
    li.append(el("h4", `${code("alarm", a.kind, CODES[lang].alarm.other)} – ${date(a.raised_at, tz)}`));
    li.append(el("p", status(a), "status"));
    const steps = [
      [t("raised"), a.raised_at],
      [t("received"), a.received_at],
      [t("cancelledByYou"), a.cancelled_by_resident_at],
      [t("accepted", a.accepted_by), a.accepted_at],
      [t("onSite", a.on_site_by), a.on_site_at],
      [`${t("resolved")}: ${code("outcome", a.outcome, "")}`, a.resolved_at],
      [t("cancelled"), a.cancelled_at],
    ].filter(([, iso]) => iso);
    steps.sort((x, y) => new Date(x[1]) - new Date(y[1])); // stable: same-time steps keep this order
    const list = el("ul", undefined, "steps");
    for (const [text, iso] of steps) list.append(el("li", `${text} ${t("at", time(iso, tz))}`));
    li.append(list);
    return li;
  }

  function measureCard(m) {
    const li = el("li", undefined, "card measure");
    li.dataset.basis = m.basis_id;
    li.append(el("h4", code("measure", m.measure, m.measure)));
    const dl = el("dl");
    const row = (label, text) => { dl.append(el("dt", label), el("dd", text)); };
    row(t("status"), code("state", m.state, m.status));
    row(t("what"), m.kinds.map((k) => code("kind", k, k)).join(", "));
    row(t("when"), m.windows.length ? m.windows.join(", ") : t("allDay"));
    row(t("why"), m.why || t("notGiven"));
    row(t("basis"), code("basis", m.basis, m.basis_text));
    row(t("reference"), m.reference);
    row(t("validUntil"), m.valid_to ? day(m.valid_to) : t("untilChanged"));
    row(t("whoCanSee"), m.visible_to.map((r) => code("role", r, r)).join(", ") || t("nobody"));
    row(t("keptFor"), t("days", m.kept_days));
    li.append(dl);
    return li;
  }

  applyLanguage();
  if (token && me) start();
})();
