// ShopSense storefront: records what the shopper does as real events, and helps them type.
// Views, clicks (with the list's request_id and position) and searches go to /shop/events,
// which binds them to the shopper's signed cookie (with the page's CSRF token). The server
// logs the impressions of every list it serves itself (with their propensities).
// Search-as-you-type reads /shop/suggest (debounced; a stale answer never overwrites a newer
// one). Every form works without this script; with it, the sort menu and a cart quantity
// apply as soon as they change.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
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

  // The sort menu and cart quantities apply when changed.
  var sort = document.getElementById("sort");
  if (sort) sort.addEventListener("change", function () { sort.form.submit(); });
  document.querySelectorAll(".qty-input").forEach(function (input) {
    input.addEventListener("change", function () {
      var n = parseInt(input.value, 10);
      if (n >= 1 && n <= parseInt(input.max, 10)) input.form.submit();
    });
  });
  // Filters fold away on a phone (they stay open without this script).
  var facets = document.getElementById("facets");
  if (facets && window.matchMedia("(max-width: 900px)").matches) facets.open = false;

  // Search as you type.
  var input = document.getElementById("q");
  var box = document.getElementById("suggestions");
  if (!input || !box) return;
  var timer = null;
  var asked = 0;
  var active = -1;
  function options() { return box.querySelectorAll("a[role=option]"); }
  function close() {
    box.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function select(index) {
    var all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach(function (o, i) { o.setAttribute("aria-selected", String(i === active)); });
    input.setAttribute("aria-activedescendant", all[active].id);
  }
  // The text with the words the shopper typed in bold, built as DOM nodes (no HTML).
  function emphasised(text, typed) {
    var span = document.createElement("span");
    var words = typed.toLowerCase().split(/\s+/).filter(Boolean);
    text.split(/(\s+)/).forEach(function (part) {
      var lower = part.toLowerCase();
      var hit = words.some(function (w) { return w.length > 0 && lower.indexOf(w) === 0; });
      var node = hit ? document.createElement("b") : document.createTextNode(part);
      if (hit) node.textContent = part;
      span.appendChild(node);
    });
    return span;
  }
  function option(href, kind, n) {
    var a = document.createElement("a");
    a.href = href;
    a.id = "suggestion-" + kind + "-" + n;
    a.className = "suggestion-" + kind;
    a.setAttribute("role", "option");
    a.setAttribute("aria-selected", "false");
    return a;
  }
  function group(label) {
    var div = document.createElement("div");
    div.className = "group";
    div.textContent = label;
    box.appendChild(div);
  }
  function show(data, typed) {
    box.textContent = "";
    active = -1;
    if (data.queries.length) group("Searches");
    data.queries.forEach(function (q, n) {
      var a = option("/shop/search?q=" + encodeURIComponent(q), "query", n);
      a.dataset.value = q;
      a.appendChild(emphasised(q, typed));
      box.appendChild(a);
    });
    if (data.products.length) group("Products");
    data.products.forEach(function (p, n) {
      var a = option(p.url, "product", n);
      var img = document.createElement("img");
      img.src = p.picture;
      img.alt = "";
      a.appendChild(img);
      var title = emphasised(p.title, typed);
      title.className = "s-title";
      a.appendChild(title);
      if (p.price) {
        var price = document.createElement("span");
        price.className = "s-price";
        price.textContent = p.price;
        a.appendChild(price);
      }
      box.appendChild(a);
    });
    var any = data.queries.length + data.products.length;
    box.dataset.count = String(any);
    box.hidden = !any;
    input.setAttribute("aria-expanded", String(!!any));
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var typed = input.value;
    if (!typed.trim()) { close(); return; }
    timer = setTimeout(function () {
      var mine = ++asked;
      fetch("/shop/suggest?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { queries: [], products: [] }; })
        .then(function (data) { if (mine === asked && input.value === typed) show(data, typed); })
        .catch(function () { /* offline or building: typing still works */ });
    }, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (box.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); select(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); select(active - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      window.location.href = options()[active].href;
    }
  });
  document.addEventListener("click", function (e) {
    if (!box.contains(e.target) && e.target !== input) close();
  });
})();
