// FusionFleet dashboard script. Every page is complete without it; it
// adds a menu button on narrow screens and keeps "My 3D printers" live:
// it listens to the server's event stream, re-renders the printer cards
// from the JSON it sends (words already in the reader's language) and
// applies the page's filters to them; and it shows the data export's
// progress.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  // The menu button shows and hides the navigation on narrow screens.
  var toggle = document.getElementById("menu-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    });
  }

  // The data export shows its progress: the document holds a row a line,
  // and the page knows how many rows there are. The server streams it;
  // here it is gathered and handed to the browser as a download.
  var exportLink = document.getElementById("export-link");
  var exportBar = document.getElementById("export-progress");
  var exportStatus = document.getElementById("export-status");
  if (exportLink && exportBar && exportStatus && window.fetch && window.ReadableStream && window.URL) {
    exportLink.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (exportLink.getAttribute("aria-disabled") === "true") {
        return;
      }
      var total = parseInt(exportLink.getAttribute("data-export-rows"), 10) || 0;
      exportBar.hidden = false;
      exportBar.max = Math.max(total, 1);
      exportBar.value = 0;
      exportBar.removeAttribute("data-state");
      exportStatus.textContent = "";
      exportLink.setAttribute("aria-disabled", "true");
      fetch(exportLink.href, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok || !r.body) {
          throw new Error("export: " + r.status);
        }
        var name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
        var reader = r.body.getReader();
        var chunks = [];
        var lines = 0;
        function pump() {
          return reader.read().then(function (res) {
            if (res.done) {
              return;
            }
            chunks.push(res.value);
            for (var i = 0; i < res.value.length; i++) {
              if (res.value[i] === 10) {
                lines++;
              }
            }
            exportBar.value = Math.min(lines, exportBar.max);
            return pump();
          });
        }
        return pump().then(function () {
          exportBar.value = exportBar.max;
          var url = URL.createObjectURL(new Blob(chunks, { type: "application/json" }));
          var a = document.createElement("a");
          a.href = url;
          a.download = name ? name[1] : "fusionfleet-export.json";
          document.body.appendChild(a);
          a.click();
          a.remove();
          window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          exportBar.setAttribute("data-state", "done");
          exportStatus.textContent = exportStatus.getAttribute("data-done");
        });
      }).catch(function () {
        exportBar.setAttribute("data-state", "failed");
        exportStatus.textContent = exportStatus.getAttribute("data-failed");
      }).then(function () {
        exportLink.removeAttribute("aria-disabled");
      });
    });
  }

  var list = document.getElementById("printers");
  var live = document.getElementById("live");
  if (!list || !live || !window.EventSource) {
    return;
  }
  var empty = document.getElementById("no-printers");
  var noMatch = document.getElementById("no-match");
  var count = document.getElementById("printer-count");
  var form = document.getElementById("filters");
  var latest = null; // the newest printer list from the server

  function setLive(on) {
    live.dataset.live = on ? "on" : "off";
    live.textContent = on ? live.dataset.wordLive : live.dataset.wordReconnecting;
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
    li.dataset.site = p.site_id;
    li.dataset.model = p.model;
    var h2 = el("h2", "card-name");
    var a = el("a", "", p.display_name);
    a.href = "/printers/" + encodeURIComponent(p.id);
    h2.appendChild(a);
    li.appendChild(h2);
    li.appendChild(el("p", "card-model", p.model + (p.site_name ? " \u00B7 " + p.site_name : "")));
    var state = el("p", "card-state");
    var dot = el("span", "dot");
    dot.setAttribute("aria-hidden", "true");
    state.appendChild(dot);
    state.appendChild(el("span", "state-words", p.state_words));
    li.appendChild(state);
    if (p.etc_words) {
      var etc = el("p", "card-etc", list.dataset.etcLabel + " ");
      etc.appendChild(el("span", "etc-words", p.etc_words));
      li.appendChild(etc);
    }
    if (p.show_progress) {
      var bar = el("progress", "card-progress", p.progress_percent + "%");
      bar.max = 100;
      bar.value = p.progress_percent;
      bar.setAttribute("aria-label", list.dataset.progressLabel.replace("{name}", p.display_name));
      li.appendChild(bar);
    }
    li.appendChild(el("p", "card-pending", p.pending_words));
    if (p.alert) {
      var al = el("p", "card-alert severity-" + p.alert.severity);
      var link = el("a", "", p.alert.words);
      link.href = "/alerts";
      al.appendChild(link);
      li.appendChild(al);
    }
    return li;
  }

  // filter is the form's current choice; an empty value matches all.
  function filter() {
    var f = { site: "", model: "", state: "" };
    if (form) {
      Object.keys(f).forEach(function (k) {
        if (form.elements[k]) {
          f[k] = form.elements[k].value;
        }
      });
    }
    return f;
  }

  function matches(f, p) {
    return (!f.site || p.site_id === f.site) && (!f.model || p.model === f.model) && (!f.state || p.state_key === f.state);
  }

  function render() {
    if (latest === null) {
      return;
    }
    var f = filter();
    var shown = latest.filter(function (p) { return matches(f, p); });
    list.replaceChildren.apply(list, shown.map(card));
    if (empty) {
      empty.hidden = latest.length > 0;
    }
    if (noMatch) {
      noMatch.hidden = shown.length > 0 || latest.length === 0;
    }
    if (count) {
      count.textContent = count.dataset.format.replace("{shown}", shown.length).replace("{total}", latest.length);
    }
  }

  // Changing a filter applies it at once and keeps the address shareable.
  if (form) {
    form.addEventListener("change", function () {
      var f = filter();
      var q = new URLSearchParams();
      Object.keys(f).forEach(function (k) {
        if (f[k]) {
          q.set(k, f[k]);
        }
      });
      var s = q.toString();
      window.history.replaceState(null, "", s ? "/?" + s : "/");
      if (latest === null) {
        form.submit();
        return;
      }
      render();
    });
  }

  // connect opens the event stream. The browser retries a dropped stream
  // by itself; one it gave up on (an error answer) is reopened here, with
  // a growing pause, unless the session is gone.
  var retry = 1000;
  function connect() {
    var source = new EventSource("/api/events");
    source.addEventListener("open", function () {
      retry = 1000;
      setLive(true);
    });
    source.addEventListener("printers", function (e) {
      latest = JSON.parse(e.data);
      render();
      setLive(true);
    });
    source.addEventListener("error", function () {
      setLive(false);
      fetch("/api/printers", { credentials: "same-origin" }).then(function (r) {
        if (r.status === 401) {
          source.close();
          window.location.assign("/login");
        }
      }).catch(function () {});
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    });
  }
  connect();
})();
