// The Today page's live feed: server-sent events from /console/live; stale panels are fetched again.
"use strict";
(function () {
  const feed = document.getElementById("feed");
  const panels = document.getElementById("panels");
  const state = document.getElementById("live-state");
  if (!feed || !window.EventSource) { return; }
  const MAX_LINES = 200;
  let refreshTimer = null;

  function show(text, cls) { state.textContent = text; state.className = "state " + cls; }

  function line(item) {
    const li = document.createElement("li");
    li.className = item.severity;
    li.dataset.type = item.type;
    const time = document.createElement("time");
    time.textContent = (item.at || "").slice(11, 19);
    const who = document.createElement("b");
    who.textContent = item.source;
    li.append(time, " ", who, " ", item.line);  // text nodes: nothing from the bus is parsed as HTML
    feed.prepend(li);
    while (feed.children.length > MAX_LINES) { feed.lastElementChild.remove(); }
  }

  function refresh() {
    refreshTimer = null;
    fetch(panels.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (r.ok) { return r.text(); } throw new Error(String(r.status)); })
      .then(function (html) { panels.innerHTML = html; })
      .catch(function () { show(state.dataset.stale || "stale", "off"); });
  }

  const source = new EventSource(feed.dataset.src);
  source.addEventListener("open", function () { show(state.dataset.on || "live", "on"); });
  source.addEventListener("error", function () { show(state.dataset.off || "reconnecting", "off"); });
  source.addEventListener("item", function (message) {
    const item = JSON.parse(message.data);
    line(item);
    if (panels && item.panels.length && refreshTimer === null) { refreshTimer = setTimeout(refresh, 250); }
  });
})();
