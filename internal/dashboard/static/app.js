// Keeps "My 3D printers" live: listens to the server's event stream and
// re-renders the printer cards from the JSON it sends. The page is complete
// without this script; it only adds live updates.
"use strict";
(function () {
  var list = document.getElementById("printers");
  var live = document.getElementById("live");
  var empty = document.getElementById("no-printers");
  if (!list || !live || !window.EventSource) {
    return;
  }

  function setLive(on) {
    live.dataset.live = on ? "on" : "off";
    live.textContent = on ? "live" : "reconnecting\u2026";
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  // card builds the same markup as the server's template.
  function card(p) {
    var li = el("li", "card");
    li.id = "printer-" + p.id;
    li.dataset.printerId = p.id;
    li.dataset.state = p.state_key;
    li.appendChild(el("h2", "card-name", p.display_name));
    li.appendChild(el("p", "card-model", p.model));
    var state = el("p", "card-state");
    var dot = el("span", "dot");
    dot.setAttribute("aria-hidden", "true");
    state.appendChild(dot);
    state.appendChild(el("span", "state-words", p.state_words));
    li.appendChild(state);
    if (p.etc_words) {
      var etc = el("p", "card-etc", "Estimated time to completion: ");
      etc.appendChild(el("span", "etc-words", p.etc_words));
      li.appendChild(etc);
    }
    if (p.show_progress) {
      var bar = el("progress", "card-progress", p.progress_percent + "%");
      bar.max = 100;
      bar.value = p.progress_percent;
      bar.setAttribute("aria-label", "Job progress of " + p.display_name);
      li.appendChild(bar);
    }
    li.appendChild(el("p", "card-pending", p.pending_words));
    return li;
  }

  function render(printers) {
    list.replaceChildren.apply(list, printers.map(card));
    if (empty) {
      empty.hidden = printers.length > 0;
    }
  }

  var source = new EventSource("/api/events");
  source.addEventListener("open", function () {
    setLive(true);
  });
  source.addEventListener("printers", function (e) {
    render(JSON.parse(e.data));
    setLive(true);
  });
  source.addEventListener("error", function () {
    setLive(false);
    // A stream refused for want of a session never comes back: log in again.
    fetch("/api/printers", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login");
      }
    }).catch(function () {});
  });
})();
