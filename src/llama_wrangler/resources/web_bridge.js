// Llama Wrangler's page script. Injected by the app only into Hugging Face and Ollama pages, in
// QWebEngineScript.ApplicationWorld: it shares the page's DOM but none of its JavaScript, and only this
// world can see qt.webChannelTransport, so the site's own scripts cannot reach the bridge.
//
// Places are found by what is stable on both sites — the page URL (/ORG/REPO, /ORG/REPO/tree|blob/REV/...,
// /library/NAME:TAG) and link targets (/resolve/, .gguf hrefs, "ollama run" text) — never by CSS class
// names. Both sites are single-page apps: DOM mutations and history navigation trigger a re-scan.
(function () {
  "use strict";
  if (window.__llamaWrangler || typeof qt === "undefined" || !qt.webChannelTransport) {
    return;
  }
  const MARK = "data-llama-wrangler";
  const RESERVED_HF = new Set(["datasets", "spaces", "docs", "api", "settings", "models", "collections",
    "login", "join", "pricing", "organizations", "papers", "blog", "learn", "tasks", "chat", "enterprise",
    "new", "new-dataset", "new-space", "notifications", "posts"]);
  const lw = { bridge: null, site: "", state: { have: {}, downloads: {} }, href: "", groups: new Map(),
    seen: new WeakSet() };
  window.__llamaWrangler = lw;

  function segmentsOf(path) {
    try {
      return path.split("/").filter(Boolean).map(decodeURIComponent);
    } catch (e) {
      return [];
    }
  }

  function style(el, css) {
    el.setAttribute("style", css);
    return el;
  }

  // One of our buttons: its clicks are ours alone, never the page's.
  function button(role, css, text, onClick) {
    const el = style(document.createElement("button"), css);
    el.type = "button";
    el.setAttribute(MARK, role);
    el.textContent = text;
    el.addEventListener("click", function (event) {
      event.preventDefault();
      event.stopPropagation();
      onClick();
    });
    return el;
  }

  // One button group per model reference: the button, a status text, and Serve when it is in the library.
  function group(key, kind, payload, big) {
    const box = style(document.createElement("span"), "display:inline-flex;align-items:center;gap:6px;" +
      "margin:" + (big ? "10px 0" : "0 0 0 8px") + ";font:13px system-ui,sans-serif;vertical-align:middle");
    box.setAttribute(MARK, "group");
    box.dataset.lwKey = key;
    const get = button("get", "cursor:pointer;border:0;border-radius:6px;" +
      "background:#6d4aff;color:#fff;padding:" + (big ? "7px 14px" : "2px 8px") + ";font:600 " +
      (big ? "13px" : "11px") + " system-ui,sans-serif", big ? "Get with Llama Wrangler" : "Get", function () {
      if (lw.bridge) {
        lw.bridge.propose(kind, JSON.stringify(payload));
      }
    });
    get.title = "Get with Llama Wrangler";
    const status = style(document.createElement("span"), "color:#2f8f4e;font-weight:600");
    status.setAttribute(MARK, "status");
    const serve = button("serve", "cursor:pointer;border:1px solid #2f8f4e;" +
      "border-radius:6px;background:transparent;color:#2f8f4e;padding:" + (big ? "6px 12px" : "1px 7px") +
      ";font:600 " + (big ? "13px" : "11px") + " system-ui,sans-serif;display:none", "Serve", function () {
      const id = lw.state.have[key];
      if (lw.bridge && id) {
        lw.bridge.serve(id);
      }
    });
    box.append(get, status, serve);
    paint(box);
    return box;
  }

  function paint(box) {
    const key = box.dataset.lwKey;
    const have = lw.state.have[key];
    const download = lw.state.downloads[key];
    const status = box.querySelector("[" + MARK + "=status]");
    const serve = box.querySelector("[" + MARK + "=serve]");
    const get = box.querySelector("[" + MARK + "=get]");
    if (download) {
      status.textContent = download.text;
      status.style.color = "#6d4aff";
    } else if (have) {
      status.textContent = "✓ In library";
      status.style.color = "#2f8f4e";
    } else {
      status.textContent = "";
    }
    serve.style.display = have && !download ? "inline-block" : "none";
    // A repo with one quant in the library still offers the picker (another quant); a file does not.
    const repo = key.indexOf("hf-repo:") === 0;
    get.style.display = download || (have && !repo) ? "none" : "inline-block";
  }

  // One group per model on the page (a file row links it twice: its page and its download), except next
  // to an "ollama run" command, which always gets its own.
  function place(key, kind, payload, anchor, big, always) {
    const known = lw.groups.get(key);
    if (known && known.isConnected && !always) {
      return;
    }
    const box = group(key, kind, payload, big);
    if (big) {
      const row = style(document.createElement("div"), "margin:8px 0");
      row.setAttribute(MARK, "row");
      row.append(box);
      anchor.insertAdjacentElement("afterend", row);
    } else {
      anchor.insertAdjacentElement("afterend", box);
    }
    lw.groups.set(key, box);
  }

  // The links not yet handled (and not our own), each with its resolved URL.
  function* newLinks() {
    for (const link of document.querySelectorAll("a[href]")) {
      if (lw.seen.has(link) || link.closest("[" + MARK + "]")) {
        continue;
      }
      let url;
      try {
        url = new URL(link.getAttribute("href"), location.href);
      } catch (e) {
        continue;
      }
      yield [link, url];
    }
  }

  function heading() {
    return document.querySelector("h1") || document.body.firstElementChild || document.body;
  }

  // -- Hugging Face ------------------------------------------------------------------------------------
  function hfFileLink(url) {
    if (url.origin !== location.origin) {
      return null;
    }
    const s = segmentsOf(url.pathname);
    if (s.length < 5 || (s[2] !== "resolve" && s[2] !== "blob") || RESERVED_HF.has(s[0])) {
      return null;
    }
    const path = s.slice(4).join("/");
    if (!/\.gguf$/i.test(path)) {
      return null;
    }
    return { repo: s[0] + "/" + s[1], revision: s[3], path: path };
  }

  function scanHf() {
    const s = segmentsOf(location.pathname);
    if (s.length >= 2 && !RESERVED_HF.has(s[0])) {
      const repo = s[0] + "/" + s[1];
      const file = hfFileLink(new URL(location.href));
      if (file && s[2] === "blob") {
        place("hf:" + file.repo + "/" + file.path, "hf-file", file, heading(), true);
      } else if (s.length === 2 || s[2] === "tree") {
        place("hf-repo:" + repo, "hf-repo", { repo: repo }, heading(), true);
      }
    }
    for (const [link, url] of newLinks()) {
      const file = hfFileLink(url);
      if (file) {
        lw.seen.add(link);
        place("hf:" + file.repo + "/" + file.path, "hf-file", file, link, false);
      }
    }
  }

  // -- Ollama ------------------------------------------------------------------------------------------
  const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

  function ollamaName(ns, nameTag) {
    const parts = nameTag.split(":");
    if (parts.length !== 2 || !NAME.test(ns) || !NAME.test(parts[0]) || !/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(parts[1])) {
      return null;
    }
    return { name: (ns === "library" ? "" : ns + "/") + parts[0] + ":" + parts[1],
      key: "ollama:" + ns + "/" + parts[0] + ":" + parts[1] };
  }

  function fromRunText(text) {
    const match = /ollama run ([A-Za-z0-9._\/-]+:[A-Za-z0-9._-]+)/.exec(text);
    if (!match) {
      return null;
    }
    const ref = match[1];
    const slash = ref.lastIndexOf("/");
    return slash < 0 ? ollamaName("library", ref) : ollamaName(ref.slice(0, slash), ref.slice(slash + 1));
  }

  function scanOllama() {
    const s = segmentsOf(location.pathname);
    if (s.length === 2 && s[1].includes(":")) {
      const found = ollamaName(s[0], s[1]);
      if (found) {
        place(found.key, "ollama", { name: found.name }, heading(), true);
      }
    }
    for (const [link, url] of newLinks()) {
      const p = segmentsOf(url.pathname);
      if (url.origin === location.origin && p.length === 2 && p[1].includes(":")) {
        const found = ollamaName(p[0], p[1]);
        if (found) {
          lw.seen.add(link);
          place(found.key, "ollama", { name: found.name }, link, false);
        }
      }
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const hits = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.includes("ollama run ") && !node.parentElement.closest("[" + MARK + "]")) {
        hits.push(node);
      }
    }
    for (const node of hits) {
      const found = fromRunText(node.nodeValue);
      if (found && !lw.seen.has(node.parentElement)) {
        lw.seen.add(node.parentElement);
        place(found.key, "ollama", { name: found.name }, node.parentElement, false, true);
      }
    }
    for (const input of document.querySelectorAll("input[value*='ollama run ']")) {
      const found = fromRunText(input.value);
      if (found && !lw.seen.has(input)) {
        lw.seen.add(input);
        place(found.key, "ollama", { name: found.name }, input, false, true);
      }
    }
  }

  function rescan() {
    if (!document.body || !lw.site) {
      return;
    }
    if (lw.href !== location.href) {
      // A single-page navigation: the page-level button belongs to the page we left.
      lw.href = location.href;
      for (const row of document.querySelectorAll("[" + MARK + "=row]")) {
        row.remove();
      }
      lw.groups.clear();
      lw.seen = new WeakSet();
      for (const box of document.querySelectorAll("[" + MARK + "=group]")) {
        box.remove();
      }
    }
    if (lw.site === "hf") {
      scanHf();
    } else if (lw.site === "ollama") {
      scanOllama();
    }
  }
  lw.rescan = rescan;

  function applyState(text) {
    try {
      const state = JSON.parse(text);
      lw.state = { have: state.have || {}, downloads: state.downloads || {} };
    } catch (e) {
      return;
    }
    for (const box of document.querySelectorAll("[" + MARK + "=group]")) {
      paint(box);
    }
  }

  let pending = 0;
  const observer = new MutationObserver(function (mutations) {
    const ours = mutations.every(function (m) {
      return Array.prototype.every.call(m.addedNodes, function (n) {
        return n.nodeType === 1 && n.hasAttribute(MARK);
      }) && m.removedNodes.length === 0 && m.addedNodes.length > 0;
    });
    if (ours || pending) {
      return;
    }
    pending = setTimeout(function () {
      pending = 0;
      rescan();
    }, 150);
  });

  // "Use this model" links for other local apps: ours instead (capture phase, before the site's handlers).
  document.addEventListener("click", function (event) {
    const link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
    if (link && /^(lmstudio|jan):/i.test(link.getAttribute("href") || "")) {
      event.preventDefault();
      event.stopPropagation();
      if (lw.bridge) {
        lw.bridge.open_link(link.href);
      }
    }
  }, true);

  new QWebChannel(qt.webChannelTransport, function (channel) {
    const bridge = channel.objects.wrangler;
    lw.bridge = bridge;
    bridge.state_changed.connect(applyState);
    bridge.site(function (site) {
      lw.site = site;
      bridge.state(function (text) {
        applyState(text);
        rescan();
        observer.observe(document.documentElement, { childList: true, subtree: true });
        window.addEventListener("popstate", rescan);
        window.addEventListener("hashchange", rescan);
        document.documentElement.setAttribute("data-llama-wrangler-ready", "1");
      });
    });
  });
})();
