// publish.js: the /publish page. Sends the browser's microphone to a WHIP
// channel of this server (RFC 9725: POST an SDP offer, get the answer and a
// session URL; DELETE the session URL to stop) and shows that channel's
// captions over a black box with overlay.js.
//
// Query parameters: channel, token, track (verbatim | subtitle), autostart=1.
// Audio processing (echo cancellation, noise suppression, gain control) is
// switched off: the recognizer wants the signal as spoken.
//
// For browser tests the page exposes window.__publish = {state, error,
// session} (state: idle, connecting, publishing, stopped, failed) and the
// overlay's state as window.__subtitled.
import { attachCaptions } from "./overlay.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const pub = { state: "idle", error: "", session: "" };
window.__publish = pub;

if (params.has("channel")) $("channel").value = params.get("channel");
if (params.has("token")) $("token").value = params.get("token");

let pc = null;
let sessionURL = null;
let captions = null;

function show(state, detail = "") {
  pub.state = state;
  const status = $("status");
  status.replaceChildren();
  const b = document.createElement("b");
  b.textContent = state;
  status.append(b, detail ? " · " + detail : "");
  $("start").disabled = state === "connecting" || state === "publishing";
  $("stop").disabled = !(state === "connecting" || state === "publishing");
}

function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// gathered resolves when ICE gathering is complete (WHIP without trickle
// sends every candidate in the offer), or after a short wait.
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

async function start(channel, token) {
  show("connecting", `channel ${channel}`);
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    video: false,
  });
  pc = new RTCPeerConnection();
  for (const track of stream.getAudioTracks()) {
    pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") show("publishing", `channel ${channel}`);
    if (pc.connectionState === "failed") fail(new Error("the WebRTC connection failed"));
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 3000);
  const res = await fetch(`/v1/whip/${encodeURIComponent(channel)}`, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", ...authHeaders(token) },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    const reason = (await res.text()).trim();
    throw new Error(`WHIP POST answered ${res.status}${reason ? ": " + reason : ""}`);
  }
  sessionURL = new URL(res.headers.get("Location"), res.url).toString();
  pub.session = sessionURL;
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  if (!captions) {
    const opts = {};
    if (params.has("track")) opts.track = params.get("track");
    captions = attachCaptions($("video"), `/v1/channels/${encodeURIComponent(channel)}/captions`, opts);
    window.__subtitled = captions.state;
  }
}

async function stop(token) {
  const url = sessionURL;
  sessionURL = null;
  if (pc) {
    for (const s of pc.getSenders()) s.track?.stop();
    pc.close();
    pc = null;
  }
  if (url) {
    await fetch(url, { method: "DELETE", headers: authHeaders(token) }).catch(() => {});
  }
  show("stopped");
}

function fail(err) {
  pub.error = String(err?.message || err);
  show("failed", pub.error);
  if (pc) {
    pc.close();
    pc = null;
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  start($("channel").value.trim(), $("token").value).catch(fail);
});
$("stop").addEventListener("click", () => stop($("token").value));
window.addEventListener("pagehide", () => {
  if (sessionURL) {
    fetch(sessionURL, { method: "DELETE", headers: authHeaders($("token").value), keepalive: true });
  }
});

show("idle");
if (params.get("autostart") === "1") {
  start($("channel").value.trim(), $("token").value).catch(fail);
}
