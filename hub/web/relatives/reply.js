// A relative's answer to Trygg's message. The signed token is in the URL fragment (never
// sent to a server with the page request); the answer is POSTed to the hub's API.
"use strict";
(() => {
  const TEXT = {
    nb: {
      ask: "Svar hjemmetjenesten: tar du deg av det?",
      handling: "Jeg tar meg av det", cannot: "Jeg kan ikke",
      done: { handling: "Takk. Hjemmetjenesten ser at du tar deg av det.",
              cannot: "Takk. Hjemmetjenesten blir varslet nå." },
      403: "Lenken er ikke gyldig.", 409: "Hjemmetjenesten har allerede tatt varselet.",
      410: "Lenken er utløpt.", other: "Svaret kom ikke fram. Prøv igjen, eller ring.",
    },
    en: {
      ask: "Answer home care: are you handling it?",
      handling: "I'm handling it", cannot: "I can't",
      done: { handling: "Thank you. Home care can see that you are handling it.",
              cannot: "Thank you. Home care is being told now." },
      403: "This link is not valid.", 409: "Home care has already taken the alert.",
      410: "This link has expired.", other: "The answer did not get through. Try again, or call.",
    },
  };
  const lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "nb";
  const t = TEXT[lang];
  const token = location.hash.slice(1);
  const $ = (id) => document.getElementById(id);
  document.documentElement.lang = lang;
  $("ask").textContent = t.ask;
  $("handling").textContent = t.handling;
  $("cannot").textContent = t.cannot;

  function show(text, error) {
    $("result").textContent = text;
    $("result").className = error ? "error" : "";
  }

  if (!token) { $("answers").hidden = true; show(t[403], true); return; }
  for (const button of document.querySelectorAll("button[data-answer]")) {
    button.addEventListener("click", async () => {
      const answer = button.dataset.answer;
      for (const b of document.querySelectorAll("button")) b.disabled = true;
      try {
        const res = await fetch(`/api/v1/relatives/reply/${encodeURIComponent(token)}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ answer }),
        });
        if (res.ok) { $("answers").hidden = true; show(t.done[answer], false); return; }
        if (res.status in t) { $("answers").hidden = true; show(t[res.status], true); return; }
        show(t.other, true);
      } catch (e) {
        show(t.other, true);
      }
      for (const b of document.querySelectorAll("button")) b.disabled = false;
    });
  }
})();
