// ShopSense storefront: records what the shopper does as real events.
// Views, clicks (with the list's request_id and position) and searches go to /shop/events,
// which binds them to the shopper's signed cookie (with the page's CSRF token). The server logs the impressions of every list it
// serves itself (with their propensities). Autocomplete reads /suggest.
(function () {
  "use strict";
  var counter = 0;
  function eventId() {
    counter += 1;
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10) + "-" + counter;
  }
  function post(events, beacon) {
    if (!events.length) return Promise.resolve();
    var meta = document.querySelector('meta[name="csrf"]');
    var body = JSON.stringify({ events: events, csrf: meta ? meta.content : null });
    if (beacon && navigator.sendBeacon) {
      navigator.sendBeacon("/shop/events", new Blob([body], { type: "application/json" }));
      return Promise.resolve();
    }
    return fetch("/shop/events", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: body,
      keepalive: true, credentials: "same-origin"
    });
  }
  var pending = [];
  var product = document.getElementById("product");
  if (product) pending.push({ event_id: eventId(), kind: "view", item_id: product.dataset.item });
  var results = document.getElementById("results");
  if (results && results.dataset.query) {
    pending.push({ event_id: eventId(), kind: "search", query: results.dataset.query,
                   request_id: results.dataset.request });
  }
  var ready = post(pending.slice(0, 100)).then(function () {
    document.body.dataset.eventsPosted = String(pending.length);
  });
  window.shopsenseReady = ready;
  // A click on a card: record it with its list's request_id and position, then navigate.
  document.querySelectorAll(".card .rec-link").forEach(function (link) {
    link.addEventListener("click", function (e) {
      var card = link.closest(".card");
      var ev = { event_id: eventId(), kind: "click", item_id: card.dataset.item };
      if (card.dataset.request) ev.request_id = card.dataset.request;
      if (card.dataset.position) ev.position = parseInt(card.dataset.position, 10);
      e.preventDefault();
      post([ev]).finally(function () { window.location.href = link.href; });
    });
  });
  // Autocomplete.
  var input = document.getElementById("q");
  var list = document.getElementById("suggestions");
  var timer = null;
  if (input && list) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var prefix = input.value;
      if (!prefix.trim()) return;
      timer = setTimeout(function () {
        fetch("/suggest?q=" + encodeURIComponent(prefix))
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (data) {
            list.innerHTML = "";
            data.suggestions.forEach(function (s) {
              var option = document.createElement("option");
              option.value = s;
              list.appendChild(option);
            });
            list.dataset.count = String(data.suggestions.length);
          });
      }, 120);
    });
  }
})();
