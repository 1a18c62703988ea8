// demo.js: the /demo page. Plays a video (optional) and draws the live
// captions of one channel over it with overlay.js.
//
// Query parameters: channel (default "demo" or the server's setting), src
// (video URL; default the server's setting; none shows a black 16:9 box),
// track (verbatim | subtitle), mode (popon | rollup), lines, token.
//
// For browser tests the page exposes the overlay's state as
// window.__subtitled: {cues: [{id, lines, start, end, emitted}], partial,
// lastId, connected, ...}; every displayed final line is an element with a
// data-cue-id attribute inside #player.
import { attachCaptions } from "./overlay.js";

const params = new URLSearchParams(location.search);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

const channel = params.get("channel") || meta("subtitled-channel") || "demo";
const src = params.get("src") ?? meta("subtitled-video");
const video = document.getElementById("video");
document.getElementById("channel-name").textContent = channel;

if (src) {
  video.src = src;
  video.loop = true;
  video.controls = true;
  video.play().catch(() => {}); // autoplay may be refused; controls remain
}

const options = {};
for (const key of ["track", "mode", "token"]) {
  if (params.has(key)) options[key] = params.get(key);
}
if (params.has("lines")) options.lines = Number(params.get("lines")) || 2;

const status = document.getElementById("status");
function showStatus() {
  const s = handle.state;
  const text = s.connected
    ? `connected · track ${s.hello?.track ?? "?"} · ${s.cues.length} cues · last id ${s.lastId ?? "none"}` +
      (s.eos ? " · end of stream" : "")
    : `reconnecting… (${s.reconnects} attempts)`;
  status.replaceChildren();
  const b = document.createElement("b");
  b.textContent = s.connected ? "Live" : "Offline";
  status.append(b, " · " + text);
}

const handle = attachCaptions(video, `/v1/channels/${encodeURIComponent(channel)}/captions`, {
  ...options,
  onMessage: showStatus,
});
window.__subtitled = handle.state;
window.__subtitledHandle = handle;
setInterval(showStatus, 1000);
