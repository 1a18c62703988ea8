// overlay.js: live captions from a subtitled WebSocket feed drawn over any
// <video>, broadcast style. Dependency-free ES module; protocol v1 is
// documented in docs/PROTOCOL.md.
//
//   import { attachCaptions } from "/overlay.js";
//   const handle = attachCaptions(document.querySelector("video"),
//       "/v1/channels/demo/captions", { mode: "rollup" });
//   ...
//   handle.detach();
//
// Every displayed line is an element with class "subtitled-line"; final
// lines carry data-cue-id, the partial line data-partial="true".

const PROTOCOL = 1;

const DEFAULTS = {
  mode: "popon", // "popon": one cue at a time; "rollup": lines scroll up
  lines: 2, // rows shown
  track: "", // "verbatim" | "subtitle"; "" keeps the URL's (or the server default)
  token: "", // bearer token, sent as ?token= (browsers cannot set headers)
  showPartials: true, // draw revisable text, italic grey
  expire: 7000, // ms a final stays up without newer text; 0: until replaced
  minDelay: 500, // reconnect backoff, ms: first delay ...
  maxDelay: 30000, // ... doubling up to this
  keep: 1000, // finals remembered in handle.state.cues
  fontScale: 0.053, // text height as a fraction of the video height
  onMessage: null, // function(msg) called for every message
  WebSocket: null, // constructor to use instead of globalThis.WebSocket
};

const STYLE_ID = "subtitled-overlay-style";
const CSS = `
.subtitled-overlay{position:absolute;pointer-events:none;display:flex;flex-direction:column;
  justify-content:flex-end;align-items:center;box-sizing:border-box;overflow:hidden;z-index:2147483000;
  padding:0 5% 5.5% 5%;font-family:"Tiresias","Roboto","Helvetica Neue",Arial,sans-serif;line-height:1.25;
  text-align:center}
.subtitled-line{display:block;max-width:100%;margin-top:.12em}
.subtitled-line>span{background:rgba(0,0,0,.78);color:#fff;padding:.06em .35em;white-space:pre-wrap;
  -webkit-box-decoration-break:clone;box-decoration-break:clone}
.subtitled-partial>span{color:#c8c8c8;font-style:italic}
`;

function injectStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  (doc.head || doc.documentElement).appendChild(style);
}

// feedURL turns a relative or http(s) URL into a ws(s) one with the
// options' track and token applied.
function feedURL(url, opts, base) {
  const u = new URL(url, base);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  if (opts.track) u.searchParams.set("track", opts.track);
  if (opts.token) u.searchParams.set("token", opts.token);
  return u;
}

/**
 * Draws the captions of a subtitled feed over a video element.
 * @param {HTMLVideoElement} video the video to caption (its parent becomes
 *   the overlay's positioning context)
 * @param {string} url the feed, e.g. "/v1/channels/demo/captions"; relative
 *   URLs resolve against the page, http(s) becomes ws(s)
 * @param {object} options see DEFAULTS above
 * @returns {{detach: function(): void, state: object, element: HTMLElement}}
 */
export function attachCaptions(video, url, options = {}) {
  if (!video || !video.parentElement) {
    throw new TypeError("attachCaptions: the video element must be in the document");
  }
  const opts = { ...DEFAULTS, ...options };
  opts.lines = Math.max(1, opts.lines | 0);
  const doc = video.ownerDocument;
  const win = doc.defaultView || globalThis;
  const WS = opts.WebSocket || win.WebSocket;
  const base = feedURL(url, opts, doc.baseURI);
  const initialSince = base.searchParams.get("since");

  // Public, inspectable state (the demo page exposes it as window.__subtitled).
  const state = {
    cues: [], // finals received, oldest first: {id, lines, start, end, emitted}
    partial: "", // current partial text ("" when none)
    lastId: null, // newest cue id received
    connected: false,
    hello: null, // the last hello message
    gaps: [], // gap messages received
    eos: false,
    reconnects: 0,
  };

  injectStyle(doc);
  const parent = video.parentElement;
  if (win.getComputedStyle(parent).position === "static") parent.style.position = "relative";
  const box = doc.createElement("div");
  box.className = "subtitled-overlay";
  box.setAttribute("aria-live", "polite");
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", "Live captions");
  parent.appendChild(box);

  // Keep the overlay on the video's box and the text sized to it.
  function place() {
    box.style.left = video.offsetLeft + "px";
    box.style.top = video.offsetTop + "px";
    box.style.width = video.offsetWidth + "px";
    box.style.height = video.offsetHeight + "px";
    box.style.fontSize = Math.max(10, video.offsetHeight * opts.fontScale) + "px";
  }
  place();
  let resizeObs = null;
  if (win.ResizeObserver) {
    resizeObs = new win.ResizeObserver(place);
    resizeObs.observe(video);
    resizeObs.observe(parent);
  }
  win.addEventListener("resize", place);

  // What is on screen: finals as {id, text} rows plus the partial.
  let rows = []; // roll-up: the newest rows; pop-on: the current cue's rows
  let partialLines = [];
  let expireTimer = null;

  function render() {
    const finals = rows.slice();
    let partial = opts.showPartials ? partialLines.slice() : [];
    let shown;
    if (opts.mode === "rollup") {
      // Finals scroll up; the partial is the bottom row(s).
      partial = partial.slice(-opts.lines);
      shown = finals.slice(Math.max(0, finals.length - (opts.lines - partial.length)));
    } else {
      // Pop-on: the partial, while there is one, stands in for the cue.
      shown = partial.length ? [] : finals.slice(-opts.lines);
      partial = partial.slice(-opts.lines);
    }
    const frag = doc.createDocumentFragment();
    for (const r of shown) frag.appendChild(lineEl(r.text, "subtitled-final", r.id));
    for (const t of partial) frag.appendChild(lineEl(t, "subtitled-partial", null));
    box.replaceChildren(frag);
  }

  function lineEl(text, cls, id) {
    const div = doc.createElement("div");
    div.className = "subtitled-line " + cls;
    if (id !== null) div.dataset.cueId = String(id);
    else div.dataset.partial = "true";
    const span = doc.createElement("span");
    span.textContent = text;
    div.appendChild(span);
    return div;
  }

  function armExpiry() {
    if (expireTimer) win.clearTimeout(expireTimer);
    expireTimer = null;
    if (opts.expire > 0) {
      expireTimer = win.setTimeout(() => {
        expireTimer = null;
        rows = [];
        render();
      }, opts.expire);
    }
  }

  function onCue(m) {
    if (state.lastId !== null && m.id <= state.lastId) return; // never twice
    state.lastId = m.id;
    state.eos = false;
    const lines = Array.isArray(m.lines) ? m.lines.map(String) : [];
    state.cues.push({ id: m.id, lines, start: m.start, end: m.end, emitted: m.emitted });
    if (state.cues.length > opts.keep) state.cues.splice(0, state.cues.length - opts.keep);
    const newRows = lines.filter((l) => l !== "").map((text) => ({ id: m.id, text }));
    rows = opts.mode === "rollup" ? rows.concat(newRows).slice(-opts.lines) : newRows.slice(-opts.lines);
    armExpiry();
    render();
  }

  function onPartial(m) {
    partialLines = Array.isArray(m.lines) ? m.lines.map(String).filter((l) => l !== "") : [];
    state.partial = partialLines.join("\n");
    render();
  }

  function onMessage(ev) {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!m || typeof m.type !== "string") return;
    switch (m.type) {
      case "hello":
        if (m.protocol !== PROTOCOL) {
          closeSocket(4000, "unsupported protocol " + m.protocol);
          return;
        }
        state.hello = m;
        state.connected = true;
        attempt = 0;
        break;
      case "cue":
        onCue(m);
        break;
      case "partial":
        onPartial(m);
        break;
      case "gap":
        state.gaps.push(m);
        break;
      case "eos":
        state.eos = true;
        partialLines = [];
        state.partial = "";
        render();
        break;
    }
    if (typeof opts.onMessage === "function") {
      try {
        opts.onMessage(m);
      } catch (e) {
        win.console && win.console.error(e);
      }
    }
  }

  // Connection with reconnect: exponential backoff with jitter, resuming
  // from the cue after the last one received.
  let ws = null;
  let attempt = 0;
  let retryTimer = null;
  let detached = false;

  function connect() {
    retryTimer = null;
    if (detached) return;
    const u = new URL(base.href);
    if (state.lastId !== null) u.searchParams.set("since", String(state.lastId + 1));
    else if (initialSince !== null) u.searchParams.set("since", initialSince);
    let sock;
    try {
      sock = new WS(u.href);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onmessage = (ev) => {
      if (ws === sock) onMessage(ev);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      state.connected = false;
      scheduleReconnect();
    };
    sock.onerror = () => {}; // onclose follows
  }

  function scheduleReconnect() {
    if (detached || retryTimer) return;
    const ceiling = Math.min(opts.maxDelay, opts.minDelay * 2 ** Math.min(attempt, 30));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    attempt++;
    state.reconnects++;
    retryTimer = win.setTimeout(connect, delay);
  }

  function closeSocket(code, reason) {
    const sock = ws;
    ws = null;
    state.connected = false;
    if (sock) sock.close(code, reason);
    if (!detached) scheduleReconnect();
  }

  connect();

  return {
    state,
    element: box,
    /** Stops the feed and removes the overlay. */
    detach() {
      if (detached) return;
      detached = true;
      if (retryTimer) win.clearTimeout(retryTimer);
      if (expireTimer) win.clearTimeout(expireTimer);
      retryTimer = expireTimer = null;
      const sock = ws;
      ws = null;
      state.connected = false;
      if (sock) sock.close(1000, "detached");
      if (resizeObs) resizeObs.disconnect();
      win.removeEventListener("resize", place);
      box.remove();
    },
  };
}

export default attachCaptions;
