// Keeps a live page current: every few seconds the main element is
// replaced with a fresh copy, without reloading and without losing the
// reader's scroll position. Pages opt in with <main data-refresh>.
"use strict";
setInterval(async () => {
  const main = document.querySelector("main[data-refresh]");
  if (!main || document.hidden) return;
  try {
    const r = await fetch(location.pathname + location.search, {cache: "no-store"});
    if (!r.ok) return;
    const d = new DOMParser().parseFromString(await r.text(), "text/html");
    const m = d.querySelector("main");
    if (m) main.replaceWith(m);
  } catch (e) {
    // offline for a moment: the next round tries again
  }
}, 5000);
