// Behaviour test of overlay.js in Node with a minimal fake DOM, fake
// timers and a fake WebSocket. Run by web_test.go:
//   node overlay_test.mjs /path/to/overlay.mjs
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

const { attachCaptions } = await import(pathToFileURL(process.argv[2]).href);

// --- fake DOM -------------------------------------------------------------
class El {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentElement = null;
    this.style = {};
    this.dataset = {};
    this.attrs = {};
    this.className = "";
    this.id = "";
    this._text = "";
    this.offsetLeft = 0;
    this.offsetTop = 0;
    this.offsetWidth = 1280;
    this.offsetHeight = 720;
  }
  appendChild(c) {
    if (c.tagName === "#FRAGMENT") {
      for (const k of [...c.children]) this.appendChild(k);
      c.children = [];
      return c;
    }
    if (c.parentElement) c.remove();
    c.parentElement = this;
    this.children.push(c);
    if (c.id) this.ownerDocument.ids.set(c.id, c);
    return c;
  }
  replaceChildren(...nodes) {
    for (const c of this.children) c.parentElement = null;
    this.children = [];
    for (const n of nodes) this.appendChild(n);
  }
  remove() {
    const p = this.parentElement;
    if (!p) return;
    p.children = p.children.filter((c) => c !== this);
    this.parentElement = null;
  }
  setAttribute(k, v) {
    this.attrs[k] = String(v);
  }
  set textContent(t) {
    this._text = String(t);
    this.children = [];
  }
  get textContent() {
    return this._text + this.children.map((c) => c.textContent).join("");
  }
  // All descendants matching a predicate, in document order.
  findAll(pred, out = []) {
    for (const c of this.children) {
      if (pred(c)) out.push(c);
      c.findAll(pred, out);
    }
    return out;
  }
}

class FakeTimers {
  constructor() {
    this.now = 0;
    this.next = 1;
    this.pending = new Map();
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.pending.set(id, { at: this.now + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(id) {
    this.pending.delete(id);
  }
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let best = null;
      for (const [id, t] of this.pending) if (t.at <= end && (!best || t.at < best[1].at)) best = [id, t];
      if (!best) break;
      this.pending.delete(best[0]);
      this.now = best[1].at;
      best[1].fn();
    }
    this.now = end;
  }
}

const sockets = [];
class FakeWS {
  constructor(url) {
    this.url = url;
    this.closed = null;
    sockets.push(this);
  }
  close(code, reason) {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new Error("InvalidAccessError: close code " + code);
    }
    this.closed = { code, reason };
  }
  // test helpers
  recv(msg) {
    this.onmessage({ data: typeof msg === "string" ? msg : JSON.stringify(msg) });
  }
  drop() {
    this.onclose({ code: 1006 });
  }
}

function setup() {
  const timers = new FakeTimers();
  const listeners = new Set();
  const win = {
    setTimeout: (f, ms) => timers.setTimeout(f, ms),
    clearTimeout: (id) => timers.clearTimeout(id),
    getComputedStyle: (el) => ({ position: el.style.position || "static" }),
    addEventListener: (t, f) => listeners.add(f),
    removeEventListener: (t, f) => listeners.delete(f),
    WebSocket: FakeWS,
    console,
  };
  const doc = {
    ids: new Map(),
    baseURI: "http://captions.example:8080/demo?channel=x",
    defaultView: win,
    createElement(tag) {
      return new El(doc, tag);
    },
    createDocumentFragment() {
      return new El(doc, "#fragment");
    },
    getElementById(id) {
      return doc.ids.get(id) || null;
    },
  };
  doc.head = new El(doc, "head");
  doc.documentElement = new El(doc, "html");
  const player = doc.documentElement.appendChild(new El(doc, "div"));
  const video = player.appendChild(new El(doc, "video"));
  return { timers, win, doc, player, video, listeners };
}

function shown(handle) {
  return handle.element
    .findAll((e) => e.className.startsWith("subtitled-line"))
    .map((e) => ({
      text: e.textContent,
      id: e.dataset.cueId ?? null,
      partial: e.dataset.partial === "true",
      cls: e.className,
    }));
}

const hello = (extra = {}) => ({ type: "hello", protocol: 1, channel: "demo", track: "verbatim", last_id: 0, ...extra });
const cue = (id, lines) => ({ type: "cue", channel: "demo", track: "verbatim", id, lines, start: id, end: id + 1 });
const partial = (lines) => ({ type: "partial", channel: "demo", track: "verbatim", lines });

let failures = 0;
function test(name, fn) {
  sockets.length = 0;
  try {
    fn();
    console.log("ok   " + name);
  } catch (e) {
    failures++;
    console.log("FAIL " + name + "\n" + (e.stack || e));
  }
}

test("pop-on: cues, partials, duplicates", () => {
  const { video, player, doc } = setup();
  const h = attachCaptions(video, "/v1/channels/demo/captions", { track: "subtitle", expire: 0 });
  assert.equal(player.style.position, "relative", "the video's parent becomes positioned");
  assert.ok(doc.getElementById("subtitled-overlay-style"), "style injected");
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "ws://captions.example:8080/v1/channels/demo/captions?track=subtitle");
  const ws = sockets[0];
  ws.recv(hello());
  assert.equal(h.state.connected, true);
  ws.recv(cue(1, ["Good evening,", "and welcome."]));
  assert.deepEqual(shown(h).map((l) => [l.text, l.id]), [["Good evening,", "1"], ["and welcome.", "1"]]);
  ws.recv(partial(["Tonight's news"]));
  assert.deepEqual(shown(h), [{ text: "Tonight's news", id: null, partial: true, cls: "subtitled-line subtitled-partial" }]);
  assert.equal(h.state.partial, "Tonight's news");
  ws.recv(partial([]));
  assert.equal(h.state.partial, "");
  assert.deepEqual(shown(h).map((l) => l.id), ["1", "1"]);
  ws.recv(cue(2, ["one", "two", "three"]));
  assert.deepEqual(shown(h).map((l) => l.text), ["two", "three"], "two rows at most");
  ws.recv(cue(2, ["dup"]));
  ws.recv(cue(1, ["old"]));
  assert.deepEqual(h.state.cues.map((c) => c.id), [1, 2], "ids never twice");
  ws.recv("not json");
  ws.recv({ type: "something-new" });
  assert.deepEqual(shown(h).map((l) => l.text), ["two", "three"]);
  h.detach();
});

test("roll-up keeps the newest rows, partial at the bottom", () => {
  const { video } = setup();
  const h = attachCaptions(video, "ws://other.example/v1/channels/demo/captions", { mode: "rollup", expire: 0 });
  assert.equal(sockets[0].url, "ws://other.example/v1/channels/demo/captions");
  const ws = sockets[0];
  ws.recv(hello());
  ws.recv(cue(7, ["a", "b"]));
  ws.recv(cue(8, ["c"]));
  assert.deepEqual(shown(h).map((l) => [l.text, l.id]), [["b", "7"], ["c", "8"]]);
  ws.recv(partial(["d"]));
  assert.deepEqual(shown(h).map((l) => [l.text, l.partial]), [["c", false], ["d", true]]);
  const h3 = attachCaptions(setup().video, "/f", { mode: "rollup", lines: 3, expire: 0, showPartials: false });
  const ws3 = sockets[1];
  ws3.recv(hello());
  ws3.recv(cue(1, ["a", "b"]));
  ws3.recv(partial(["p"]));
  ws3.recv(cue(2, ["c", "d"]));
  assert.deepEqual(shown(h3).map((l) => l.text), ["b", "c", "d"], "3 rows, partials hidden");
  h.detach();
  h3.detach();
});

test("reconnect with backoff and since=last+1", () => {
  const { video, timers } = setup();
  const h = attachCaptions(video, "/v1/channels/demo/captions?since=5", { minDelay: 100, maxDelay: 1000 });
  assert.match(sockets[0].url, /since=5$/, "the URL's since is used first");
  sockets[0].drop(); // never connected: retry with the same since
  timers.advance(100);
  assert.equal(sockets.length, 2);
  assert.match(sockets[1].url, /since=5$/);
  sockets[1].recv(hello());
  sockets[1].recv(cue(5, ["x"]));
  sockets[1].recv(cue(9, ["y"]));
  sockets[1].drop();
  assert.equal(h.state.connected, false);
  timers.advance(49);
  assert.equal(sockets.length, 2, "not before the backoff");
  timers.advance(51);
  assert.equal(sockets.length, 3);
  assert.match(sockets[2].url, /since=10$/);
  // Failures back off exponentially up to maxDelay.
  let last = timers.now;
  const gaps = [];
  for (let i = 0; i < 6; i++) {
    sockets[sockets.length - 1].drop();
    const n = sockets.length;
    while (sockets.length === n) timers.advance(1);
    gaps.push(timers.now - last);
    last = timers.now;
  }
  assert.ok(gaps[0] <= 200 && gaps[2] >= 400, "grows: " + gaps);
  assert.ok(gaps.every((g) => g <= 1000), "capped: " + gaps);
  // A hello resets the backoff.
  sockets[sockets.length - 1].recv(hello());
  sockets[sockets.length - 1].drop();
  const n = sockets.length;
  timers.advance(100);
  assert.equal(sockets.length, n + 1, "reset after hello");
  h.detach();
});

test("gap, eos and unknown protocol", () => {
  const { video, timers } = setup();
  const h = attachCaptions(video, "/f", { minDelay: 10 });
  const ws = sockets[0];
  ws.recv(hello());
  ws.recv({ type: "gap", reason: "resume", lost_from: 1, lost_to: 4 });
  assert.equal(h.state.gaps.length, 1);
  ws.recv(partial(["p"]));
  ws.recv({ type: "eos", last_id: 0, reason: "end of stream" });
  assert.equal(h.state.eos, true);
  assert.equal(h.state.partial, "");
  ws.recv(hello({ protocol: 2 }));
  assert.equal(ws.closed.code, 4000, "closed: unsupported protocol");
  timers.advance(10);
  assert.equal(sockets.length, 2, "and retried");
  h.detach();
});

test("finals expire; detach stops everything", () => {
  const { video, player, timers, listeners } = setup();
  const seen = [];
  const h = attachCaptions(video, "/f", { expire: 3000, onMessage: (m) => seen.push(m.type) });
  const ws = sockets[0];
  ws.recv(hello());
  ws.recv(cue(1, ["a"]));
  timers.advance(2999);
  assert.equal(shown(h).length, 1);
  ws.recv(cue(2, ["b"]));
  timers.advance(2999);
  assert.deepEqual(shown(h).map((l) => l.text), ["b"], "a newer cue restarts the clock");
  timers.advance(1);
  assert.equal(shown(h).length, 0, "expired");
  assert.deepEqual(seen, ["hello", "cue", "cue"]);
  assert.equal(player.children.includes(h.element), true);
  h.detach();
  assert.deepEqual(ws.closed, { code: 1000, reason: "detached" });
  assert.equal(player.children.includes(h.element), false, "overlay removed");
  assert.equal(listeners.size, 0, "listeners removed");
  ws.drop();
  timers.advance(60000);
  assert.equal(sockets.length, 1, "no reconnect after detach");
  assert.equal(timers.pending.size, 0, "no timers left");
});

test("text is never parsed as HTML", () => {
  const { video } = setup();
  const h = attachCaptions(video, "/f", {});
  sockets[0].recv(hello());
  sockets[0].recv(cue(1, ["<img src=x onerror=alert(1)>"]));
  const line = h.element.findAll((e) => e.tagName === "SPAN")[0];
  assert.equal(line._text, "<img src=x onerror=alert(1)>");
  assert.equal(line.children.length, 0);
  h.detach();
});

if (failures) {
  console.log(`${failures} failed`);
  process.exit(1);
}
